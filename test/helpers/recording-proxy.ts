import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export type ProxyEndpoint = 'push' | 'status' | 'pull' | 'other';

/**
 * What the proxy does with one request instead of (or besides) forwarding it:
 * - `answer`: answers itself with this status and raw body; the node sees nothing;
 * - `hang`: answers nothing for `ms`, then 504; the node sees nothing (a master with a shorter time-out gives up);
 * - `lose-answer`: forwards, the node stores the batch, then the connection is cut before any answer;
 * - `delay-answer`: forwards at once, holds the node's answer for `ms`;
 * - `hold-answer`: forwards at once, holds the node's answer until `until` settles (a race made deterministic:
 *   the test acts while the master waits, then lets the answer go), and then sends it, or `answer` instead.
 */
export type ProxyFault =
  | { kind: 'answer'; status: number; body: string }
  | { kind: 'hang'; ms: number }
  | { kind: 'lose-answer' }
  | { kind: 'delay-answer'; ms: number }
  | { kind: 'hold-answer'; until: Promise<unknown>; answer?: { status: number; body: string } };

/** One request as the proxy received it. */
export interface ProxiedRequest {
  seq: number;
  endpoint: ProxyEndpoint;
  method: string;
  path: string;
  /** push: the ids of `records`, in body order; pull: the `ids` asked for. */
  ids: unknown[];
  body: Record<string, unknown> | undefined;
  receivedAt: number;
  /** Whether the node behind got the request. */
  forwarded: boolean;
  /** The node's answer, when forwarded and answered. */
  nodeStatus?: number;
  nodeBody?: unknown;
  /** The status code sent back to the master; undefined while pending or when the answer was lost. */
  answeredStatus?: number;
  /** True once the whole answer was handed to the master's connection. */
  answered: boolean;
}

export interface RecordingProxyOptions {
  /** Base URL of the node behind, e.g. a demo node process. */
  target: string;
  /** Port to listen on; 0 (a free one) when left out. */
  port?: number;
}

/**
 * A node:http server in front of a real node that logs every request (what
 * the node was sent, in the order it was sent) and can inject faults: a node
 * answering 500 or non-JSON, hanging past the master's time-out, losing its
 * answer after storing a batch, answering late, or not listening at all.
 *
 * @example
 * const proxy = await RecordingProxy.start({ target: node.url });
 * proxy.fault = (request) => (request.endpoint === 'push' ? { kind: 'answer', status: 500, body: 'boom' } : undefined);
 * ... push through proxy.url ...
 * expect(proxy.pushedIds()).toEqual([...]);
 * await proxy.close();
 */
export class RecordingProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Decides a fault for each request; none (plain forwarding) when it returns undefined. */
  fault: ((request: ProxiedRequest) => ProxyFault | undefined) | undefined;
  /** Rewrites the node's status answer body (e.g. to report an earlier lastProcessedId). */
  rewriteStatus: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /** Rewrites the node's pull answer body (e.g. to leave ids out). */
  rewritePull: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /** Rewrites the node's push answer body (e.g. to reject some records with node contract v1.1's `rejected`). */
  rewritePush: ((body: Record<string, unknown>, request: ProxiedRequest) => Record<string, unknown>) | undefined;

  readonly #target: string;
  #server: http.Server;
  #port: number;
  readonly #sockets = new Set<Socket>();
  #connections = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(target: string, port: number) {
    this.#target = target.replace(/\/+$/, '');
    this.#port = port;
    this.#server = this.#createServer();
  }

  static async start(options: RecordingProxyOptions): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(options.target, options.port ?? 0);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** TCP connections the master opened to this proxy so far, across restarts. */
  get connections(): number {
    return this.#connections;
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /** Listens (again) on the same port: a node that comes back. */
  async listen(): Promise<void> {
    if (this.#server.listening) return;
    this.#server = this.#createServer();
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.#server.once('error', reject);
          this.#server.listen(this.#port, '127.0.0.1', () => {
            this.#server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (error) {
        if (attempt === 5 || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
        await new Promise((done) => setTimeout(done, 100));
      }
    }
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection: the port is closed, as for a node that is down. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Requests to one endpoint, in the order received. */
  of(endpoint: ProxyEndpoint): ProxiedRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  /** Push requests the node behind received, in order. */
  forwardedPushes(): ProxiedRequest[] {
    return this.requests.filter((r) => r.endpoint === 'push' && r.forwarded);
  }

  /** Every record id the node behind was pushed, in the order it received them (re-sends included). */
  pushedIds(): number[] {
    return this.forwardedPushes().flatMap((r) => r.ids.map(Number));
  }

  /** Resolves once `check` holds over the requests so far; rejects after `timeoutMs`. */
  async waitFor(check: (requests: ProxiedRequest[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.requests)) {
      if (Date.now() > deadline) throw new Error(`proxy for ${this.#target}: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #createServer(): http.Server {
    const server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(599, { 'content-type': 'text/plain' });
          res.end(`proxy failure: ${(error as Error).message}`);
        } else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.#connections += 1;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const endpoint: ProxyEndpoint = path.endsWith('/push.json')
      ? 'push'
      : path.endsWith('/status.json')
        ? 'status'
        : path.endsWith('/pull.json')
          ? 'pull'
          : 'other';
    let body: Record<string, unknown> | undefined;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      body = undefined;
    }
    const ids =
      endpoint === 'push' && Array.isArray(body?.records)
        ? (body.records as { id: unknown }[]).map((r) => r.id)
        : endpoint === 'pull' && Array.isArray(body?.ids)
          ? (body.ids as unknown[])
          : [];
    const request: ProxiedRequest = {
      seq: this.requests.length + 1,
      endpoint,
      method: req.method ?? 'GET',
      path,
      ids,
      body,
      receivedAt: Date.now(),
      forwarded: false,
      answered: false,
    };
    this.requests.push(request);
    res.on('finish', () => {
      request.answered = true;
    });

    const fault = this.fault?.(request);
    if (fault?.kind === 'answer') {
      request.answeredStatus = fault.status;
      res.writeHead(fault.status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(fault.body);
      return;
    }
    if (fault?.kind === 'hang') {
      await this.#sleep(fault.ms);
      if (res.destroyed) return;
      request.answeredStatus = 504;
      res.writeHead(504, { 'content-type': 'text/plain' });
      res.end('gateway time-out');
      return;
    }

    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (req.headers.authorization !== undefined) headers.authorization = req.headers.authorization;
    const answer = await fetch(`${this.#target}${path}`, {
      method: req.method ?? 'GET',
      headers,
      ...(req.method !== 'GET' && req.method !== 'HEAD' && { body: text }),
    });
    request.forwarded = true;
    let answerText = await answer.text();
    request.nodeStatus = answer.status;
    try {
      request.nodeBody = JSON.parse(answerText);
    } catch {
      request.nodeBody = answerText;
    }
    if (answer.ok && typeof request.nodeBody === 'object' && request.nodeBody !== null) {
      const parsed = request.nodeBody as Record<string, unknown>;
      if (endpoint === 'status' && this.rewriteStatus) answerText = JSON.stringify(this.rewriteStatus(parsed));
      if (endpoint === 'pull' && this.rewritePull) answerText = JSON.stringify(this.rewritePull(parsed));
      if (endpoint === 'push' && this.rewritePush) answerText = JSON.stringify(this.rewritePush(parsed, request));
    }

    if (fault?.kind === 'lose-answer') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay-answer') await this.#sleep(fault.ms);
    if (fault?.kind === 'hold-answer') {
      await fault.until.catch(() => undefined);
      if (fault.answer !== undefined && !res.destroyed) {
        request.answeredStatus = fault.answer.status;
        res.writeHead(fault.answer.status, { 'content-type': 'application/json' });
        res.end(fault.answer.body);
        return;
      }
    }
    if (res.destroyed) return;
    request.answeredStatus = answer.status;
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(answerText);
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
