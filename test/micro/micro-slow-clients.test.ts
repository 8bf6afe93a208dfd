import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createMicroNode, type MicroNodeOptions } from '../../src/micro/index.js';
import { createHttpTransport } from '../../src/nodes/http-transport.js';
import type { NodeTransport } from '../../src/nodes/node-transport.js';

const API_KEY = 'slow-clients-key';
const PUSH = '/api/1.0/deliveries/push.json';
const STATUS = '/api/1.0/deliveries/status.json';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
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

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-slow-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(options: Partial<MicroNodeOptions> = {}): Promise<{ url: string; port: number; client: NodeTransport }> {
  const node = createMicroNode({
    apiKey: API_KEY,
    dataFile: join(tempDir(), 'node.db'),
    protocols: { deliveries: { process: () => ({ done: true }) } },
    ...options,
  });
  cleanups.push(() => node.close());
  const { url, port } = await node.listen(0);
  const client = createHttpTransport({
    name: 'n',
    url,
    apiKey: API_KEY,
    services: {},
    timeoutMs: 5_000,
    ...(options.tls && { tls: { ca: caFile } }),
  });
  cleanups.push(() => client.close());
  return { url, port, client };
}

/** A client that connects and writes `head` at once, then one byte of `drip` every `everyMs`, forever. */
interface SlowClient {
  /** Milliseconds from connecting until the node closed the connection; undefined while it is open. */
  closedAfter(): number | undefined;
  /** What the node sent before it closed. */
  received(): string;
}

function slowClient(port: number, head: string, drip: string, everyMs: number, secure = false): SlowClient {
  const opened = performance.now();
  let closedAt: number | undefined;
  let received = '';
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  // Over TLS the client never says hello: the handshake drips nothing. Else the drip starts once the head is out.
  const socket: net.Socket = net.connect(port, '127.0.0.1', () => {
    if (secure) return;
    socket.write(head);
    timer = setInterval(() => {
      if (socket.destroyed) return;
      socket.write(drip[index % drip.length] ?? 'x');
      index += 1;
    }, everyMs);
  });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closedAt = performance.now();
    clearInterval(timer);
  });
  cleanups.push(() => {
    clearInterval(timer);
    socket.destroy();
  });
  return { closedAfter: () => (closedAt === undefined ? undefined : closedAt - opened), received: () => received };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Asks status every 50 ms for `ms`: every answer must be a success. */
async function keepAsking(client: NodeTransport, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let answered = 0;
  while (Date.now() < until) {
    const answer = await client.get(STATUS);
    if (!answer.ok) throw new Error(`status failed while slow clients were connected: ${answer.error}`);
    answered += 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return answered;
}

let caFile = '';

describe('the kit facing slow clients', () => {
  const HEADERS_MS = 600;
  const REQUEST_MS = 1_800;

  it('drops a header drip after headersTimeoutMs and a slow body after requestTimeoutMs, answering real requests meanwhile', async () => {
    const { port, client } = await start({ headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS });
    const headerDrips = Array.from({ length: 20 }, () =>
      slowClient(port, `POST ${PUSH} HTTP/1.1\r\nHost: node\r\n`, 'X-Pad: aaaaaaaa\r\n', 50),
    );
    const slowBodies = Array.from({ length: 20 }, () =>
      slowClient(
        port,
        `POST ${PUSH} HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\n` +
          'Content-Length: 100000\r\n\r\n',
        '{"records":[',
        50,
      ),
    );
    // Without the key: answered 401 before the body is read, then held only until the request time-out.
    const keyless = Array.from({ length: 5 }, () =>
      slowClient(port, `POST ${PUSH} HTTP/1.1\r\nHost: node\r\nContent-Length: 100000\r\n\r\n`, '{"records":[', 50),
    );
    // Connected, and silent.
    const silent = Array.from({ length: 5 }, () => slowClient(port, '', ' ', 60_000));

    const answered = await keepAsking(client, REQUEST_MS + 700);
    expect(answered).toBeGreaterThan(10);
    expect(await client.post(PUSH, { records: [{ id: 1 }] })).toMatchObject({ ok: true });

    const everyone = [...headerDrips, ...slowBodies, ...keyless, ...silent];
    await waitFor(() => everyone.every((c) => c.closedAfter() !== undefined), 'every slow client dropped');
    for (const drip of [...headerDrips, ...silent]) {
      // Dropped once the time-out passed (Node checks its connections every quarter of it), never before.
      expect(drip.closedAfter()).toBeGreaterThanOrEqual(HEADERS_MS - 50);
      expect(drip.closedAfter()).toBeLessThan(HEADERS_MS + 3_000);
    }
    for (const body of [...slowBodies, ...keyless]) {
      expect(body.closedAfter()).toBeGreaterThanOrEqual(REQUEST_MS - 50);
      expect(body.closedAfter()).toBeLessThan(REQUEST_MS + 3_000);
    }
    for (const body of keyless) expect(body.received()).toMatch(/^HTTP\/1\.1 401 /);
    for (const drip of headerDrips) expect(drip.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes connections over maxConnections at once and takes new ones when slow ones are dropped', async () => {
    const { port, client } = await start({ headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS, maxConnections: 4 });
    // The transport's pool holds a keep-alive connection of its own: one of the four.
    expect(await client.get(STATUS)).toMatchObject({ ok: true });
    const holders = Array.from({ length: 3 }, () => slowClient(port, `GET ${STATUS} HTTP/1.1\r\n`, 'X', 100));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const extra = slowClient(port, `GET ${STATUS} HTTP/1.1\r\n`, 'X', 100);
    await waitFor(() => extra.closedAfter() !== undefined, 'the connection over the cap closed');
    expect(extra.closedAfter()).toBeLessThan(HEADERS_MS - 100);
    expect(holders.every((holder) => holder.closedAfter() === undefined)).toBe(true);

    await waitFor(() => holders.every((holder) => holder.closedAfter() !== undefined), 'the holders dropped');
    const fresh = createHttpTransport({ name: 'n2', url: `http://127.0.0.1:${port}`, apiKey: API_KEY, services: {}, timeoutMs: 5_000 });
    cleanups.push(() => fresh.close());
    expect(await fresh.get(STATUS)).toMatchObject({ ok: true });
  });

  it('drops a client that never finishes the TLS handshake, over https, and answers real requests', async () => {
    const dir = tempDir();
    caFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        keyFile,
        '-out',
        caFile,
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const { port, client } = await start({
      headersTimeoutMs: HEADERS_MS,
      requestTimeoutMs: REQUEST_MS,
      tls: { key: readFileSync(keyFile), cert: readFileSync(caFile) },
    });
    const mute = Array.from({ length: 5 }, () => slowClient(port, '', '', 1_000, true));
    // A client past the handshake that drips its headers is held to headersTimeoutMs as over http.
    const drip = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(caFile) });
    let dripClosedAt: number | undefined;
    const dripOpened = performance.now();
    drip.on('error', () => undefined);
    drip.on('close', () => (dripClosedAt = performance.now() - dripOpened));
    let timer: NodeJS.Timeout | undefined;
    drip.on('secureConnect', () => {
      drip.write(`GET ${STATUS} HTTP/1.1\r\n`);
      timer = setInterval(() => !drip.destroyed && drip.write('X'), 50);
    });
    cleanups.push(() => {
      clearInterval(timer);
      drip.destroy();
    });

    expect(await keepAsking(client, HEADERS_MS + 400)).toBeGreaterThan(5);
    expect(await client.post(PUSH, { records: [{ id: 1 }] })).toMatchObject({ ok: true });
    await waitFor(() => mute.every((c) => c.closedAfter() !== undefined) && dripClosedAt !== undefined, 'the slow TLS clients dropped');
    for (const client of mute) expect(client.closedAfter()).toBeLessThan(HEADERS_MS + 3_000);
    expect(dripClosedAt).toBeLessThan(HEADERS_MS + 3_000);
  });

  it('closes within seconds while slow clients hold connections, whatever the time-outs', async () => {
    const node = createMicroNode({
      apiKey: API_KEY,
      dataFile: join(tempDir(), 'node.db'),
      protocols: { deliveries: { process: () => ({ done: true }) } },
    });
    let closed = false;
    cleanups.push(() => (closed ? undefined : node.close()));
    const { port } = await node.listen(0);
    const drips = Array.from({ length: 5 }, () => slowClient(port, `POST ${PUSH} HTTP/1.1\r\nHost: node\r\n`, 'X-Pad: aaaaaaaa\r\n', 50));
    const bodies = Array.from({ length: 5 }, () =>
      slowClient(
        port,
        `POST ${PUSH} HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Length: 100000\r\n\r\n`,
        '[',
        50,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    const started = performance.now();
    await node.close();
    closed = true;

    // The default time-outs would hold them 10 and 60 s.
    expect(performance.now() - started).toBeLessThan(5_000);
    await waitFor(() => [...drips, ...bodies].every((c) => c.closedAfter() !== undefined), 'the slow clients cut');
  });

  it('refuses limits it cannot keep', () => {
    const dataFile = join(tempDir(), 'n.db');
    const protocols = { d: { process: () => undefined } };
    expect(() => createMicroNode({ apiKey: 'k', dataFile, protocols, headersTimeoutMs: 0 })).toThrow(/headersTimeoutMs must be an integer/);
    expect(() => createMicroNode({ apiKey: 'k', dataFile, protocols, requestTimeoutMs: 2 ** 31 })).toThrow(/requestTimeoutMs must be/);
    expect(() => createMicroNode({ apiKey: 'k', dataFile, protocols, headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 })).toThrow(
      /requestTimeoutMs must be at least headersTimeoutMs/,
    );
    expect(() => createMicroNode({ apiKey: 'k', dataFile, protocols, maxConnections: 0 })).toThrow(/maxConnections must be/);
  });
});
