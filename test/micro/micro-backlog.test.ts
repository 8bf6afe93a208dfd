import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MicroStore } from '../../src/micro/micro-store.js';
import { createHttpTransport } from '../../src/nodes/http-transport.js';
import type { NodeTransport } from '../../src/nodes/node-transport.js';
import { packageFile } from '../../src/package-files.js';

const BACKLOG = 1_000_000;
const API_KEY = 'backlog-key';
const PUSH = '/api/1.0/deliveries/push.json';
const STATUS = '/api/1.0/deliveries/status.json';
const PULL = '/api/1.0/deliveries/pull.json';
/** How long status is asked, every 50 ms, while the node works. */
const MEASURE_MS = 4_000;

let dir: string;
let backlogFile: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'workmesh-backlog-'));
  backlogFile = join(dir, 'backlog.db');
  // The state a node is in after pushes of a million records: all received, none processed.
  const store = new MicroStore({ file: backlogFile });
  const chunk = 50_000;
  for (let start = 1; start <= BACKLOG; start += chunk) {
    store.insert(
      'deliveries',
      Array.from({ length: chunk }, (_, i) => ({ id: start + i, id_account: (start + i) % 97, subject: `record ${start + i}` })),
    );
  }
  store.close();
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startNode(dataFile: string, batchSize: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [packageFile('dist/examples/demo-node.js')], {
    env: { ...process.env, PORT: '0', API_KEY, DATA_FILE: dataFile, PROTOCOLS: 'deliveries', BATCH_SIZE: String(batchSize) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    // Before the kit yielded, a worker started on a backlog kept even `listen` from completing.
    const timer = setTimeout(() => reject(new Error('the node did not listen within 15 s')), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ child, url: `http://127.0.0.1:${match[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`the node exited with ${code} before listening`)));
  });
}

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await call();
  return { ms: performance.now() - started, value };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function lastProcessed(answer: Awaited<ReturnType<NodeTransport['get']>>): number {
  if (!answer.ok) throw new Error(`status failed: ${answer.error}`);
  return Number(answer.body.lastProcessedId ?? 0);
}

describe('a kit node working through a backlog of a million records', () => {
  for (const batchSize of [1, 100]) {
    const kind = batchSize === 1 ? 'process' : 'processBatch';
    it(`answers status, push and pull within a second and exits promptly on SIGTERM (${kind})`, async () => {
      const dataFile = join(dir, `node-${batchSize}.db`);
      copyFileSync(backlogFile, dataFile);
      cleanups.push(() => rmSync(dataFile, { force: true }));
      const { child, url } = await startNode(dataFile, batchSize);
      // A starved node makes these calls fail by time-out rather than hang the test.
      const client = createHttpTransport({ name: 'backlog', url, apiKey: API_KEY, services: {}, timeoutMs: 10_000 });
      cleanups.push(() => client.close());

      const latencies: number[] = [];
      const first = await timed(() => client.get(STATUS));
      latencies.push(first.ms);
      const startedAt = lastProcessed(first.value);
      const until = Date.now() + MEASURE_MS;
      let last = startedAt;
      while (Date.now() < until) {
        const status = await timed(() => client.get(STATUS));
        latencies.push(status.ms);
        last = lastProcessed(status.value);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const push = await timed(() =>
        client.post(PUSH, { records: Array.from({ length: 500 }, (_, i) => ({ id: BACKLOG + 1 + i, subject: 'new' })) }),
      );
      const pull = await timed(() => client.post(PULL, { ids: Array.from({ length: 100 }, (_, i) => i + 1) }));

      // The worker was busy all along: records were processed during the measurement, and most are still waiting.
      expect(last).toBeGreaterThan(startedAt);
      expect(last).toBeLessThan(BACKLOG);
      expect(push.value.ok).toBe(true);
      expect(pull.value.ok).toBe(true);

      const sorted = [...latencies].sort((a, b) => a - b);
      const exitStarted = performance.now();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await exited;
      const exitMs = performance.now() - exitStarted;

      const figures = {
        status: latencies.length,
        p50: Math.round(percentile(sorted, 0.5)),
        p95: Math.round(percentile(sorted, 0.95)),
        p99: Math.round(percentile(sorted, 0.99)),
        max: Math.round(sorted[sorted.length - 1] ?? NaN),
        push500: Math.round(push.ms),
        pull100: Math.round(pull.ms),
        processed: last - startedAt,
        sigtermExit: Math.round(exitMs),
      };
      console.log(`backlog ${BACKLOG}, ${batchSize === 1 ? 'process' : `processBatch ${batchSize}`}: ${JSON.stringify(figures)} (ms)`);

      // Generous bounds for a loaded machine: before the kit yielded, nothing was answered at all.
      expect(figures.p95).toBeLessThan(1_000);
      expect(figures.max).toBeLessThan(3_000);
      expect(push.ms).toBeLessThan(3_000);
      expect(pull.ms).toBeLessThan(3_000);
      expect(code).toBe(0);
      expect(exitMs).toBeLessThan(3_000);
    }, 120_000);
  }
});
