import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { MeshConfig } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import { METRICS_CONTENT_TYPE } from '../src/metrics/collect-metrics.js';
import { packageFile } from '../src/package-files.js';
import { ApiError, DashboardApi } from './dashboard-api.js';
import { actionRefusal, isLoopbackHost, readRefusal } from './request-guard.js';

export { isLoopbackHost };

export interface DashboardOptions {
  database: Database;
  config: MeshConfig;
  host: string;
  /** 0: any free port. */
  port: number;
  /** WORKMESH_DASHBOARD_TOKEN: without it the dashboard only reads. */
  token?: string;
}

export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/** The page's files: its own, and uPlot's from the installed package (no CDN, no copy to keep in step). */
function staticFiles(): Map<string, { path: string; type: string }> {
  const uplot = createRequire(packageFile('package.json'));
  const own = (name: string) => packageFile(`dashboard/public/${name}`);
  return new Map([
    ['/', { path: own('index.html'), type: 'text/html; charset=utf-8' }],
    ['/app.js', { path: own('app.js'), type: 'text/javascript; charset=utf-8' }],
    ['/style.css', { path: own('style.css'), type: 'text/css; charset=utf-8' }],
    ['/vendor/uPlot.iife.min.js', { path: uplot.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['/vendor/uPlot.min.css', { path: uplot.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

/**
 * Serves the dashboard: the static page, its JSON API under /api/, and
 * /metrics, on node:http. Reads go through the report functions; the only
 * write, retry, goes through the engine's retry functions and needs the
 * token (see request-guard.ts).
 *
 * @example
 * const dashboard = await startDashboard({ database, config, host: '127.0.0.1', port: 4545 });
 * console.log(dashboard.url); ... await dashboard.close();
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  if (!isLoopbackHost(options.host) && options.token === undefined) throw new Error(`refusing to serve ${options.host} without a token`);
  const api = new DashboardApi({ database: options.database, config: options.config });
  const files = staticFiles();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const refused = readRefusal(request, options.host);
    if (refused !== undefined) return sendJson(response, 421, { error: refused });
    if (request.method === 'POST') {
      const refusal = actionRefusal(request, options.token);
      if (refusal !== undefined) return sendJson(response, refusal.status, { error: refusal.message });
      if (url.pathname !== '/api/retry') return sendJson(response, 404, { error: 'no such action' });
      const body = await readJsonBody(request);
      return sendJson(response, 200, await api.retry(body));
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: 'GET or POST only' });
    const file = files.get(url.pathname);
    if (file !== undefined) {
      response.writeHead(200, { 'content-type': file.type, ...SECURITY_HEADERS });
      response.end(await readFile(file.path));
      return;
    }
    const q = url.searchParams;
    if (url.pathname === '/metrics') {
      response.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
      response.end(await api.metrics());
      return;
    }
    if (url.pathname === '/api/config') {
      return sendJson(response, 200, {
        actions: options.token !== undefined,
        services: options.config.services.map((s) => ({ name: s.name, protocols: s.protocols.map((p) => p.name) })),
        nodes: options.config.nodes.map((n) => n.name),
      });
    }
    if (url.pathname === '/api/overview') return sendJson(response, 200, await api.overview(q));
    if (url.pathname === '/api/failed') return sendJson(response, 200, await api.failed(q));
    if (url.pathname === '/api/entity') return sendJson(response, 200, await api.entity(q));
    if (url.pathname === '/api/runs') return sendJson(response, 200, await api.runs(q));
    const node = /^\/api\/nodes\/([^/]+)$/.exec(url.pathname);
    if (node) return sendJson(response, 200, await api.node(decodeURIComponent(node[1]!), q));
    return sendJson(response, 404, { error: 'not found' });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof ApiError ? error.status : 500;
      if (!response.headersSent) sendJson(response, status, { error: (error as Error).message ?? String(error) });
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The page loads nothing from elsewhere and may not be framed by another site. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
  response.end(JSON.stringify(value));
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'the body is not JSON');
  }
}
