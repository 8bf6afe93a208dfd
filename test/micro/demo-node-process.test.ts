import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../src/nodes/http-transport.js';
import type { NodeTransport } from '../../src/nodes/node-transport.js';
import { startNodeProcesses, type NodeProcess, type NodeProcesses } from '../helpers/node-processes.js';

const PUSH = '/api/1.0/deliveries/push.json';
const STATUS = '/api/1.0/deliveries/status.json';
const PULL = '/api/1.0/deliveries/pull.json';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  // Every cleanup runs even when one fails, so a failing test leaves no node or temp dir behind.
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
});

async function cluster(count: number, options: Parameters<typeof startNodeProcesses>[1]): Promise<NodeProcesses> {
  const started = await startNodeProcesses(count, options);
  cleanups.push(() => started.stop());
  return started;
}

function clientOf(node: NodeProcess): NodeTransport {
  const client = createHttpTransport({ name: node.name, url: node.url, apiKey: node.apiKey, services: {}, timeoutMs: 5_000 });
  cleanups.push(() => client.close());
  return client;
}

function hashOf(record: unknown): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function pull(client: NodeTransport, ids: number[]): Promise<unknown[]> {
  const answer = await client.post(PULL, { ids });
  if (!answer.ok) throw new Error(answer.error);
  return answer.body.results as unknown[];
}

describe('demo node process', () => {
  it('hashes records, fails a FAIL subject, and serves several protocols', async () => {
    const { nodes } = await cluster(2, { protocols: ['deliveries', 'enrichments'] });
    expect(nodes.map((node) => node.name)).toEqual(['node1', 'node2']);
    expect(new Set(nodes.map((node) => node.url)).size).toBe(2);
    const [node1] = nodes;
    if (node1 === undefined) throw new Error('no node');
    const client = clientOf(node1);
    const records = [
      { id: 1, subject: 'hello' },
      { id: 2, subject: 'please FAIL' },
    ];

    expect(await client.post(PUSH, { records })).toMatchObject({ ok: true });
    expect(await client.post('/api/1.0/enrichments/push.json', { records: [{ id: 1 }] })).toMatchObject({ ok: true });
    await waitFor(async () => (await pull(client, [1, 2])).length === 2, 'both records');

    expect(await pull(client, [1, 2])).toEqual([
      { id: 1, hash: hashOf(records[0]) },
      { id: 2, error: 'unparseable record' },
    ]);
    const wrongKey = createHttpTransport({ name: 'x', url: node1.url, apiKey: 'wrong', services: {} });
    cleanups.push(() => wrongKey.close());
    expect(await wrongKey.get(STATUS)).toMatchObject({ ok: false, error: expect.stringMatching(/^HTTP 401: /) });
  });

  it('refuses a REJECT subject at push time and stores the rest of the batch', async () => {
    const { nodes } = await cluster(1, { protocols: ['deliveries'] });
    const [node1] = nodes;
    if (node1 === undefined) throw new Error('no node');
    const client = clientOf(node1);
    const records = [
      { id: 1, subject: 'hello' },
      { id: 2, subject: 'REJECT me' },
      { id: 3, subject: 'world' },
    ];

    expect(await client.post(PUSH, { records })).toEqual({
      ok: true,
      body: { status: 'success', stored: 2, rejected: [{ id: 2, error: 'unreadable payload' }] },
    });
    await waitFor(async () => (await pull(client, [1, 3])).length === 2, 'records 1 and 3');
    expect(await pull(client, [2])).toEqual([]);
  });

  it('keeps an answered push through SIGKILL and processes it after a restart on the same url', async () => {
    const started = await cluster(1, { protocols: ['deliveries'], processDelayMs: 150 });
    const node = started.nodes[0];
    if (node === undefined) throw new Error('no node');
    const { url, dataFile } = node;
    const firstPid = node.pid;
    const records = Array.from({ length: 10 }, (_, index) => ({ id: index + 1, subject: `record ${index + 1}` }));

    const before = clientOf(node);
    expect(await before.post(PUSH, { records })).toMatchObject({ ok: true });
    await started.kill('node1');

    // What the killed node left on disk: every record, most still unprocessed.
    const file = new BetterSqlite3(dataFile, { readonly: true });
    const counts = file.prepare('SELECT COUNT(*) AS received, SUM(done) AS processed FROM micro_records').get() as {
      received: number;
      processed: number;
    };
    file.close();
    expect(counts.received).toBe(10);
    expect(counts.processed).toBeLessThan(5);

    const refused = await before.get(STATUS);
    expect(refused.ok).toBe(false);

    await started.restart('node1');
    expect(node.url).toBe(url);
    expect(node.dataFile).toBe(dataFile);
    expect(node.pid).not.toBe(firstPid);
    const after = clientOf(node);

    await waitFor(async () => {
      const answer = await after.get(STATUS);
      return answer.ok && answer.body.lastProcessedId === 10;
    }, 'all ten records after the restart');
    expect(
      await pull(
        after,
        records.map((record) => record.id),
      ),
    ).toEqual(records.map((record) => ({ id: record.id, hash: hashOf(record) })));
  });

  it('exits with code 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-demo-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../dist/examples/demo-node.js', import.meta.url))], {
      env: { ...process.env, PORT: '0', API_KEY: 'k', DATA_FILE: join(dir, 'n.db'), PROTOCOLS: 'deliveries' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) resolve();
      });
      child.once('exit', () => reject(new Error('exited before listening')));
    });
    expect(stdout).toMatch(/^listening \d+\n$/);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
