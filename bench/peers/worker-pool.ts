import { fork, type ChildProcess } from 'node:child_process';

/** What a worker process reports to the bench over IPC. */
export type WorkerMessage = { ready: true } | { done: number } | { failed: string };

const START_TIMEOUT_MS = 60_000;

export interface WorkerPool {
  pids: number[];
  /** Records whose digest the workers have stored so far. */
  done(): number;
  /** Resolves once the workers together stored `total` digests; rejects on a worker failure or after `timeoutMs`. */
  waitDone(total: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `count` worker processes (a peer's own worker program) with IPC, and
 * waits until each says it is connected and listening for jobs. Each counts
 * the digests it wrote (after the UPDATE committed) and reports the count.
 */
export async function startWorkerPool(script: string, count: number, env: Record<string, string>): Promise<WorkerPool> {
  const children: ChildProcess[] = [];
  const counts = new Array<number>(count).fill(0);
  let failure: string | undefined;
  let wake: () => void = () => undefined;
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
  };
  try {
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const child = fork(script, [], {
          env: { ...process.env, ...env, WORKER_INDEX: String(i) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`worker ${i} did not start within ${START_TIMEOUT_MS / 1000} s`)),
            START_TIMEOUT_MS,
          );
          child.on('message', (message: WorkerMessage) => {
            if ('ready' in message) {
              clearTimeout(timer);
              resolve();
            } else if ('done' in message) counts[i] = message.done;
            else failure ??= `worker ${i}: ${message.failed}`;
            wake();
          });
          child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`worker ${i} exited with ${code} before it was ready`));
            if (code !== 0) failure ??= `worker ${i} exited with ${code}`;
            wake();
          });
        });
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const done = () => counts.reduce((a, b) => a + b, 0);
  return {
    pids: children.map((c) => c.pid!),
    done,
    waitDone: (total, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`workers stored ${done()} of ${total} digests within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
        wake = () => {
          if (failure !== undefined) {
            clearTimeout(timer);
            reject(new Error(failure));
          } else if (done() >= total) {
            clearTimeout(timer);
            resolve();
          }
        };
        wake();
      }),
    stop,
  };
}

const REPORT_MS = 50;

/**
 * The worker side: counts digests stored and reports the count every 50 ms
 * (and at once when asked to stop). Call ready() once jobs can be taken.
 */
export function workerReporter(): { ready(): void; stored(): void; failed(error: unknown): void } {
  let done = 0;
  let reported = 0;
  const send = () => {
    if (done !== reported && process.connected) {
      process.send?.({ done } satisfies WorkerMessage);
      reported = done;
    }
  };
  setInterval(send, REPORT_MS).unref();
  return {
    ready: () => process.send?.({ ready: true } satisfies WorkerMessage),
    stored: () => {
      done++;
    },
    failed: (error) => process.send?.({ failed: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage),
  };
}
