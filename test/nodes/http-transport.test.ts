import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import { createHttpTransport } from '../../src/nodes/http-transport.js';
import type { NodeTransport } from '../../src/nodes/node-transport.js';
import { waitUntil } from '../helpers/mesh-fixture.js';

interface SeenRequest {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  url: string;
  seen: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function startServer(handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function nodeConfig(url: string, extra: Partial<NodeConfig> = {}): NodeConfig {
  return { name: 'n1', url, apiKey: 'secret-key-123', services: {}, ...extra };
}

describe('createHttpTransport', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const open = (node: NodeConfig): NodeTransport => {
    const transport = createHttpTransport(node);
    cleanups.push(() => transport.close());
    return transport;
  };
  const serve = async (handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> => {
    const server = await startServer(handler, tls);
    cleanups.push(() => server.close());
    return server;
  };

  afterEach(async () => {
    // Transports first: a pool closes only once its requests are done.
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('returns the body of a success answer and sends the contract headers', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'success', lastProcessedId: 17 }));
    const transport = open(nodeConfig(server.url));

    const answer = await transport.post('/api/1.0/deliveries/push.json', { records: [{ id: 1 }] });

    expect(answer).toEqual({ ok: true, body: { status: 'success', lastProcessedId: 17 } });
    expect(server.seen).toHaveLength(1);
    const [request] = server.seen;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/api/1.0/deliveries/push.json');
    expect(request?.headers.authorization).toBe('Bearer secret-key-123');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.accept).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({ records: [{ id: 1 }] });
  });

  it('sends GET without a body', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'success', lastProcessedId: null }));
    const transport = open(nodeConfig(server.url));

    const answer = await transport.get('/api/1.0/deliveries/status.json');

    expect(answer).toEqual({ ok: true, body: { status: 'success', lastProcessedId: null } });
    expect(server.seen[0]?.method).toBe('GET');
    expect(server.seen[0]?.body).toBe('');
    expect(server.seen[0]?.headers.authorization).toBe('Bearer secret-key-123');
  });

  it('joins the base path of the node url with the call path', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'success' }));
    const withPrefix = open(nodeConfig(`${server.url}/prefix`));
    const withSlash = open(nodeConfig(`${server.url}/prefix/v2/`));

    expect((await withPrefix.get('/api/1.0/x/status.json')).ok).toBe(true);
    expect((await withSlash.get('api/1.0/x/status.json')).ok).toBe(true);

    expect(server.seen.map((r) => r.url)).toEqual(['/prefix/api/1.0/x/status.json', '/prefix/v2/api/1.0/x/status.json']);
  });

  it('reports 401 with its body', async () => {
    const server = await serve((_req, res) => json(res, 401, { status: 'error', message: 'unauthorized' }));
    const transport = open(nodeConfig(server.url));

    const answer = await transport.get('/s');

    expect(answer).toEqual({ ok: false, error: 'HTTP 401: {"status":"error","message":"unauthorized"}', failure: 'node', where: 'GET /s' });
  });

  it('truncates the body of a 500 to 500 characters', async () => {
    const long = `${'a'.repeat(499)}bc${'d'.repeat(2000)}`;
    const server = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(long);
    });
    const transport = open(nodeConfig(server.url));

    const answer = await transport.post('/p', {});

    expect(answer).toEqual({ ok: false, error: `HTTP 500: ${'a'.repeat(499)}b`, failure: 'node', where: 'POST /p' });
  });

  it('counts characters, not UTF-16 units, when truncating', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(500);
      res.end('😀'.repeat(600));
    });
    const transport = open(nodeConfig(server.url));

    const answer = await transport.post('/p', {});

    expect(answer).toEqual({ ok: false, error: `HTTP 500: ${'😀'.repeat(500)}`, failure: 'node', where: 'POST /p' });
  });

  it('treats a 200 with a body that is not JSON as a failure', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const transport = open(nodeConfig(server.url));

    expect(await transport.get('/s')).toEqual({ ok: false, error: 'HTTP 200: <html>maintenance</html>', failure: 'node', where: 'GET /s' });
  });

  it('treats a 200 with a JSON status other than success as a failure', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'error', message: 'disk full' }));
    const transport = open(nodeConfig(server.url));

    expect(await transport.post('/p', {})).toEqual({
      ok: false,
      error: 'HTTP 200: {"status":"error","message":"disk full"}',
      failure: 'node',
      where: 'POST /p',
    });
  });

  it('treats a 201 success as success and a 302 success as a failure', async () => {
    let status = 201;
    const server = await serve((_req, res) => json(res, status, { status: 'success' }));
    const transport = open(nodeConfig(server.url));

    expect((await transport.post('/p', {})).ok).toBe(true);
    status = 302;
    expect(await transport.post('/p', {})).toEqual({
      ok: false,
      error: 'HTTP 302: {"status":"success"}',
      failure: 'node',
      where: 'POST /p',
    });
  });

  it('reports a refused connection with the network error message', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const transport = open(nodeConfig(`http://127.0.0.1:${port}`));

    expect(await transport.post('/p', { records: [] })).toEqual({
      ok: false,
      error: `connect ECONNREFUSED 127.0.0.1:${port}`,
      failure: 'node',
      where: 'POST /p',
    });
  });

  it('times out a node that never answers', async () => {
    const server = await serve(() => {
      // Never answers.
    });
    const transport = open(nodeConfig(server.url, { timeoutMs: 200 }));

    const started = Date.now();
    const answer = await transport.post('/p', {});
    const elapsed = Date.now() - started;

    expect(answer).toEqual({ ok: false, error: 'timed out after 200 ms', failure: 'node', where: 'POST /p' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(900);
  });

  it('times out a body that trickles in for longer than timeoutMs', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"success","pad":"');
      // Each chunk arrives well inside timeoutMs; only the whole answer is too slow.
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const transport = open(nodeConfig(server.url, { timeoutMs: 300 }));

    const started = Date.now();
    const answer = await transport.get('/s');

    expect(answer).toEqual({ ok: false, error: 'timed out after 300 ms', failure: 'node', where: 'GET /s' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('never puts the API key in an error text, even when the node echoes it', async () => {
    const server = await serve((req, res) => {
      res.writeHead(403);
      res.end(`rejected ${req.headers.authorization ?? ''}`);
    });
    const transport = open(nodeConfig(server.url));

    const answer = await transport.get('/s');

    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    expect(answer.error).toBe('HTTP 403: rejected Bearer ***');
    expect(answer.error).not.toContain('secret-key-123');
  });

  it('reuses one keep-alive connection for successive calls', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'success' }));
    const transport = open(nodeConfig(server.url));

    await transport.get('/a');
    await transport.get('/b');
    await transport.post('/c', {});

    expect(server.seen.map((r) => r.headers.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
  });

  it('keeps calls that follow each other on one connection', async () => {
    // A pull's status and then its batches; undici's Pool opened a second connection for the call after the first.
    const server = await serve((_req, res) => json(res, 200, { status: 'success' }));
    const transport = open(nodeConfig(server.url));

    for (const path of ['/status', '/pull', '/pull', '/status', '/pull']) {
      const answer = path === '/status' ? await transport.get(path) : await transport.post(path, { ids: [1] });
      expect(answer.ok).toBe(true);
    }

    expect(server.seen).toHaveLength(5);
    expect(server.connections()).toBe(1);
  });

  it('opens a connection for each call in flight, up to its connections, and queues the rest on them', async () => {
    const held: (() => void)[] = [];
    const server = await serve((_req, res) => held.push(() => json(res, 200, { status: 'success' })));
    const transport = createHttpTransport(nodeConfig(server.url), { connections: 3 });
    cleanups.push(() => transport.close());

    const calls = Array.from({ length: 7 }, (_, i) => transport.post(`/c${i}`, {}));
    await waitUntil(() => held.length === 3, 'three calls at the node');
    expect(server.connections()).toBe(3);
    // Answered one at a time, each connection takes its next call: every call is answered, on the same three.
    while (server.seen.length < 7 || held.length > 0) {
      await waitUntil(() => held.length > 0, 'the next call at the node');
      held.shift()!();
    }
    const answers = await Promise.all(calls);

    expect(answers.every((a) => a.ok)).toBe(true);
    expect(server.connections()).toBe(3);
    expect(new Set(server.seen.map((r) => r.url))).toEqual(new Set(Array.from({ length: 7 }, (_, i) => `/c${i}`)));
  });

  it('reports a call after close instead of throwing', async () => {
    const server = await serve((_req, res) => json(res, 200, { status: 'success' }));
    const transport = createHttpTransport(nodeConfig(server.url));
    await transport.close();

    const answer = await transport.get('/s');

    expect(answer.ok).toBe(false);
  });

  describe('failure classes (node contract v1.1)', () => {
    it("classes 400, 409, 413 and 422 with a JSON body as the records' failure", async () => {
      let status = 400;
      const server = await serve((_req, res) => json(res, status, { status: 'error', message: 'bad record' }));
      const transport = open(nodeConfig(server.url));

      for (const code of [400, 409, 413, 422]) {
        status = code;
        expect(await transport.post('/p', { records: [] })).toEqual({
          ok: false,
          error: `HTTP ${code}: {"status":"error","message":"bad record"}`,
          failure: 'records',
          where: 'POST /p',
        });
      }
    });

    it("classes the same statuses without a JSON body as the node's failure", async () => {
      let status = 400;
      const server = await serve((_req, res) => {
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end('<html>proxy error</html>');
      });
      const transport = open(nodeConfig(server.url));

      for (const code of [400, 409, 413, 422]) {
        status = code;
        expect(await transport.post('/p', { records: [] })).toMatchObject({
          ok: false,
          failure: 'node',
          error: `HTTP ${code}: <html>proxy error</html>`,
        });
      }
    });

    it("classes 401, 403, 404, 408, 429 and 5xx as the node's failure, even with a JSON body", async () => {
      let status = 401;
      const server = await serve((_req, res) => json(res, status, { status: 'error' }));
      const transport = open(nodeConfig(server.url));

      for (const code of [401, 403, 404, 408, 429, 500, 502, 503, 504]) {
        status = code;
        expect(await transport.post('/p', { records: [] })).toMatchObject({
          ok: false,
          failure: 'node',
          error: `HTTP ${code}: {"status":"error"}`,
        });
      }
    });

    it("classes a 2xx answer that is not a JSON success as the node's failure", async () => {
      let body = 'not json';
      const server = await serve((_req, res) => {
        res.writeHead(200);
        res.end(body);
      });
      const transport = open(nodeConfig(server.url));

      for (const text of ['not json', '[1,2]', '"success"', '{"status":"error"}', '']) {
        body = text;
        expect(await transport.post('/p', { records: [] })).toMatchObject({ ok: false, failure: 'node' });
      }
    });

    it("classes a host name that does not resolve as the node's failure", async () => {
      // .invalid never resolves (RFC 2606).
      const transport = open(nodeConfig('http://no-such-node.invalid:3001', { timeoutMs: 10_000 }));

      expect(await transport.get('/s')).toMatchObject({ ok: false, failure: 'node', where: 'GET /s' });
    });

    it("classes a connection reset as the node's failure", async () => {
      const server = await serve((req) => req.socket.destroy());
      const transport = open(nodeConfig(server.url));

      expect(await transport.post('/p', { records: [] })).toMatchObject({ ok: false, failure: 'node', where: 'POST /p' });
    });
  });

  describe('answer size cap', () => {
    const MB = 1024 * 1024;
    /** A success answer of about `bytes` bytes, sent in chunks without a content-length unless `declared`. */
    const bigAnswer = (res: ServerResponse, bytes: number, declared = false): void => {
      const head = '{"status":"success","pad":"';
      const tail = '"}';
      const pad = bytes - head.length - tail.length;
      res.writeHead(200, { 'content-type': 'application/json', ...(declared && { 'content-length': String(bytes) }) });
      res.write(head);
      const chunk = 'x'.repeat(64 * 1024);
      let left = pad;
      const more = (): void => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.slice(0, left);
          left -= piece.length;
          if (!res.write(piece)) {
            res.once('drain', more);
            return;
          }
        }
        res.end(tail);
      };
      more();
    };

    it("fails a status answer over 4 MB as the node's, whether or not it declares its length", async () => {
      let declared = false;
      const server = await serve((_req, res) => bigAnswer(res, 5 * MB, declared));
      const transport = open(nodeConfig(server.url));

      for (const withLength of [false, true]) {
        declared = withLength;
        expect(await transport.get('/api/1.0/deliveries/status.json')).toEqual({
          ok: false,
          error: `HTTP 200: the status answer is larger than ${4 * MB} bytes (the node's maxAnswerBytes); not read`,
          failure: 'node',
          where: 'GET /api/1.0/deliveries/status.json',
        });
      }
    });

    it('stops reading an endless answer at the cap instead of waiting for the time-out', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"success","pad":"');
        const chunk = 'x'.repeat(64 * 1024);
        const more = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', more);
        };
        more();
      });
      const transport = open(nodeConfig(server.url, { timeoutMs: 30_000 }));

      const started = Date.now();
      const answer = await transport.post('/p', { records: [] });

      expect(answer).toMatchObject({ ok: false, failure: 'node', error: expect.stringContaining('push answer is larger than') });
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('lets a pull answer (a body with ids) reach 64 MB while a push answer stops at 4 MB', async () => {
      const server = await serve((_req, res) => bigAnswer(res, 10 * MB));
      const transport = open(nodeConfig(server.url));

      const pulled = await transport.post('/pull', { ids: [1] });
      expect(pulled.ok).toBe(true);
      if (pulled.ok) expect((pulled.body.pad as string).length).toBeGreaterThan(10 * MB - 100);
      expect(await transport.post('/push', { records: [{ id: 1 }] })).toMatchObject({
        ok: false,
        failure: 'node',
        error: expect.stringContaining('push answer is larger than'),
      });
    });

    it("takes the node's maxAnswerBytes for every answer, and keeps working after an answer over it", async () => {
      let size = 2_000;
      const server = await serve((_req, res) => bigAnswer(res, size));
      const transport = open(nodeConfig(server.url, { maxAnswerBytes: 1_000 }));

      expect(await transport.post('/pull', { ids: [1] })).toMatchObject({
        ok: false,
        failure: 'node',
        error: "HTTP 200: the pull answer is larger than 1000 bytes (the node's maxAnswerBytes); not read",
      });
      size = 1_000;
      expect(await transport.get('/s')).toMatchObject({ ok: true });
    });

    it('caps the body of a failed answer too', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(500);
        res.end('e'.repeat(5 * MB));
      });
      const transport = open(nodeConfig(server.url));

      expect(await transport.post('/p', { records: [] })).toMatchObject({
        ok: false,
        failure: 'node',
        error: `HTTP 500: the push answer is larger than ${4 * MB} bytes (the node's maxAnswerBytes); not read`,
      });
    });
  });

  describe('error texts', () => {
    it('replaces NUL bytes and terminal control characters with spaces', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(500);
        res.end('bad\u0000byte \u001b[31mred\u001b[0m\r\nline\u0007\u009b2J\u007f end');
      });
      const transport = open(nodeConfig(server.url));

      const answer = await transport.post('/p', {});

      expect(answer).toMatchObject({ ok: false, error: 'HTTP 500: bad byte  [31mred [0m  line  2J  end' });
    });

    it('never leaves any part of the key when the echoed key straddles the 500-character cut', async () => {
      const key = 'Zq7-leaky-api-key-4f9c1e';
      const server = await serve((req, res) => {
        const offset = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('offset'));
        res.writeHead(401);
        res.end(`${'x'.repeat(offset)}${req.headers.authorization ?? ''} and ${JSON.stringify({ key })} ${'y'.repeat(600)}`);
      });
      const transport = open(nodeConfig(server.url, { apiKey: key }));
      const cut = 500;

      // The Bearer form starts anywhere from well before the cut to just after it.
      for (let offset = cut - `Bearer ${key}`.length - 5; offset <= cut + 2; offset += 1) {
        const answer = await transport.get(`/s?offset=${offset}`);
        expect(answer.ok).toBe(false);
        if (answer.ok) continue;
        expect(answer.error.length).toBeLessThanOrEqual('HTTP 401: '.length + cut);
        expect(answer.where).toBe('GET /s');
        for (let length = 4; length <= key.length; length += 1) {
          for (let start = 0; start + length <= key.length; start += 1) {
            expect(answer.error, `offset ${offset}`).not.toContain(key.slice(start, start + length));
          }
        }
        if (offset + 'Bearer '.length < cut) expect(answer.error).toContain('Bearer *');
      }
    });

    it('removes the key in its JSON-escaped and URL-encoded forms', async () => {
      const key = 'k/"ey+with=odd&chars';
      const server = await serve((_req, res) => {
        res.writeHead(500);
        res.end(`${JSON.stringify({ got: key })} ${encodeURIComponent(key)}`);
      });
      const transport = open(nodeConfig(server.url, { apiKey: key }));

      const answer = await transport.post('/p', {});

      expect(answer).toMatchObject({ ok: false, error: 'HTTP 500: {"got":"***"} ***' });
    });

    it('never puts the password of the node URL in a failure', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(503);
        res.end('upstream said hunter2/pass and hunter2%2Fpass');
      });
      const { port } = new URL(server.url);
      const transport = open(nodeConfig(`http://mesh:hunter2%2Fpass@127.0.0.1:${port}/base`));

      const answer = await transport.post('/p', {});

      expect(answer).toEqual({ ok: false, error: 'HTTP 503: upstream said *** and ***', failure: 'node', where: 'POST /base/p' });
      expect(server.seen[0]?.url).toBe('/base/p');

      const refused = open(nodeConfig('http://mesh:hunter2%2Fpass@127.0.0.1:1/base'));
      const down = await refused.get('/s?x=1');
      expect(down).toMatchObject({ ok: false, failure: 'node', where: 'GET /base/s' });
      expect(JSON.stringify(down)).not.toContain('hunter2');
    });
  });

  describe('https with a private CA', () => {
    let dir: string;
    let tls: { key: Buffer; cert: Buffer };
    let caFile: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'workmesh-tls-'));
      caFile = join(dir, 'ca.pem');
      const keyFile = join(dir, 'key.pem');
      // A self-signed certificate is its own CA: trusting it is what `tls.ca` is for.
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
      tls = { key: readFileSync(keyFile), cert: readFileSync(caFile) };
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('trusts the node certificate through tls.ca', async () => {
      const server = await serve((_req, res) => json(res, 200, { status: 'success', over: 'tls' }), tls);
      const transport = open(nodeConfig(server.url, { tls: { ca: caFile } }));

      expect(await transport.get('/s')).toEqual({ ok: true, body: { status: 'success', over: 'tls' } });
      expect(server.seen[0]?.headers.authorization).toBe('Bearer secret-key-123');
    });

    it('rejects the same certificate without the CA', async () => {
      const server = await serve((_req, res) => json(res, 200, { status: 'success' }), tls);
      const transport = open(nodeConfig(server.url));

      const answer = await transport.get('/s');

      expect(answer.ok).toBe(false);
      if (answer.ok) return;
      expect(answer.error).toMatch(/self[- ]signed certificate/);
      expect(server.seen).toHaveLength(0);
    });

    it('reports a CA file that cannot be read on every call', async () => {
      const transport = open(nodeConfig('https://127.0.0.1:1', { tls: { ca: join(dir, 'missing.pem') } }));

      const answer = await transport.get('/s');

      expect(answer.ok).toBe(false);
      if (answer.ok) return;
      expect(answer.error).toContain(`cannot read CA file ${join(dir, 'missing.pem')}`);
      expect(answer).toMatchObject({ failure: 'node', where: 'GET /s' });
    });
  });
});
