import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BenchNodeAddress } from './bench-config.js';

const STUB_NODES = fileURLToPath(new URL('./stub-nodes.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface StubNodeSet {
  /** stub1..stubN, all with the key in `apiKeyVariable`. */
  nodes: BenchNodeAddress[];
  pid: number;
  stop(): Promise<void>;
}

/** Starts `count` stub nodes in one process (bench/stub-nodes.ts): nodes that cost nothing, however many. */
export async function startStubNodeSet(count: number, apiKeyVariable: string): Promise<StubNodeSet> {
  const apiKey = randomBytes(16).toString('hex');
  process.env[apiKeyVariable] = apiKey;
  const child = spawn(process.execPath, [STUB_NODES], {
    env: { ...process.env, COUNT: String(count), API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${count} stub nodes did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening ([\d,]+)$/.exec(line.trim());
      if (!match) return;
      clearTimeout(timer);
      resolve(match[1]!.split(',').map(Number));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stub nodes exited with status ${code} before listening`));
    });
  });
  return {
    nodes: ports.map((port, i) => ({ name: `stub${i + 1}`, url: `http://127.0.0.1:${port}`, apiKeyVariable })),
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
