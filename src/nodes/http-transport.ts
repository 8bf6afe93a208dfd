import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { NodeConfig } from '../config/node-config.js';
import type { FailureClass, NodeCallResult, NodeTransport } from './node-transport.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECTIONS = 8;
/** How much of a failed answer's body the error text keeps (node contract). */
const ERROR_BODY_CHARS = 500;

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

export interface HttpTransportOptions {
  /** Keep-alive connections to the node at most; 8 when left out. */
  connections?: number;
}

/**
 * A {@link NodeTransport} over HTTP(S) with one keep-alive undici pool per node.
 * Calls never throw for node failures: they resolve to `{ ok: false, error }`.
 *
 * @example
 * const transport = createHttpTransport(node);
 * try {
 *   const answer = await transport.post('/api/1.0/deliveries/push.json', { records });
 *   if (!answer.ok) console.error(answer.error);
 * } finally {
 *   await transport.close();
 * }
 */
export function createHttpTransport(node: NodeConfig, options: HttpTransportOptions = {}): NodeTransport {
  const timeoutMs = node.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const base = new URL(node.url);
  const basePath = base.pathname.replace(/\/+$/, '');
  const apiKey = node.apiKey ?? '';

  // A CA file that cannot be read is this node's failure, not the whole run's:
  // every call reports it instead of the constructor throwing.
  let ca: string | undefined;
  let setupError: string | undefined;
  if (node.tls?.ca !== undefined) {
    try {
      ca = readFileSync(node.tls.ca, 'utf8');
    } catch (error) {
      setupError = `cannot read CA file ${node.tls.ca}: ${errorText(error)}`;
    }
  }

  const pool = new Pool(base.origin, {
    connections: options.connections ?? DEFAULT_CONNECTIONS,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: {
      timeout: timeoutMs,
      ...(ca !== undefined ? { ca } : {}),
    },
  });

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
  };
  if (apiKey !== '') headers.authorization = `Bearer ${apiKey}`;

  // The key must never reach a log, even if a node or a proxy echoes the request back.
  const redact = (text: string): string => (apiKey === '' ? text : text.split(apiKey).join('***'));

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<NodeCallResult> {
    if (setupError !== undefined) return { ok: false, error: setupError, failure: 'node' };
    let status: number;
    let text: string;
    // undici arms headersTimeout on its coarse timer wheel (about one second of
    // slack) and bodyTimeout only bounds the gap between chunks; the signal makes
    // `timeoutMs` an exact deadline for the whole call.
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      const response = await pool.request({
        method,
        path: joinPath(basePath, path),
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: deadline,
      });
      status = response.statusCode;
      // Reading the whole body frees the connection for the next call on this keep-alive pool.
      text = await response.body.text();
    } catch (error) {
      if (deadline.aborted) return { ok: false, error: `timed out after ${timeoutMs} ms`, failure: 'node' };
      return { ok: false, error: redact(failureText(error, timeoutMs)), failure: 'node' };
    }
    const parsed = parseObject(text);
    if (status >= 200 && status < 300 && parsed !== undefined && parsed.status === 'success') {
      return { ok: true, body: parsed };
    }
    return { ok: false, error: redact(`HTTP ${status}: ${firstChars(text, ERROR_BODY_CHARS)}`), failure: failureClass(status, parsed) };
  }

  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    close: () => pool.close(),
  };
}

/** HTTP statuses by which a reachable node refuses the records themselves (with a JSON body); any other failure is the node's. */
const RECORD_REJECTION_STATUSES = new Set([400, 409, 413, 422]);

function failureClass(status: number, parsed: Record<string, unknown> | undefined): FailureClass {
  return RECORD_REJECTION_STATUSES.has(status) && parsed !== undefined ? 'records' : 'node';
}

function joinPath(basePath: string, path: string): string {
  return `${basePath}/${path.replace(/^\/+/, '')}`;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Not JSON: the caller reports the raw body.
  }
  return undefined;
}

function failureText(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return `timed out after ${timeoutMs} ms`;
  return errorText(error);
}

function errorText(error: unknown): string {
  // With happy eyeballs (a host name with both IPv4 and IPv6 addresses) Node
  // reports a refused connection as an AggregateError with an empty message.
  if (error instanceof AggregateError && error.message === '') {
    const inner = error.errors.map(errorText).filter((text) => text !== '');
    if (inner.length > 0) return inner.join('; ');
  }
  if (error instanceof Error) {
    if (error.message !== '') return error.message;
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}

/** The first `count` characters, counted in code points so no surrogate pair is split. */
function firstChars(text: string, count: number): string {
  if (text.length <= count) return text;
  let end = 0;
  let seen = 0;
  for (const char of text) {
    if (seen === count) break;
    end += char.length;
    seen += 1;
  }
  return text.slice(0, end);
}
