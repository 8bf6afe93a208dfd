import { readFileSync } from 'node:fs';
import type { NodeConfig } from '../config/node-config.js';
import { cappedRequest } from './capped-request.js';
import { cleanErrorText } from './clean-error-text.js';
import { JsonText } from './json-text.js';
import { NodeConnections } from './node-connections.js';
import type { FailureClass, NodeCallResult, NodeTransport } from './node-transport.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECTIONS = 8;
/** How much of a failed answer's body the error text keeps (node contract). */
const ERROR_BODY_CHARS = 500;
/**
 * The most bytes read from one answer when the node sets no `maxAnswerBytes`:
 * a status or push answer is a few fields; a pull answer carries a batch of results.
 */
export const DEFAULT_MAX_ANSWER_BYTES = { status: 4 * 1024 * 1024, push: 4 * 1024 * 1024, pull: 64 * 1024 * 1024 } as const;

/** Which endpoint of the contract a call is, for its answer's cap. */
type AnswerKind = keyof typeof DEFAULT_MAX_ANSWER_BYTES;

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

export interface HttpTransportOptions {
  /** Keep-alive connections to the node at most; 8 when left out. */
  connections?: number;
}

/**
 * A {@link NodeTransport} over HTTP(S) with a node's keep-alive connections ({@link NodeConnections}).
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

  const connections = new NodeConnections({
    origin: base.origin,
    max: options.connections ?? DEFAULT_CONNECTIONS,
    options: {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: {
        timeout: timeoutMs,
        ...(ca !== undefined ? { ca } : {}),
      },
    },
  });

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
  };
  if (apiKey !== '') headers.authorization = `Bearer ${apiKey}`;

  // The key and the URL's password must never reach a log, even if a node or a
  // proxy echoes the request back. Removed from the whole text before it is cut,
  // so a secret straddling the cut leaves no part of itself behind.
  const secrets = secretForms([apiKey, base.password, safeDecode(base.password)]);
  const clean = (text: string): string => cleanErrorText(secrets.reduce((out, secret) => out.split(secret).join('***'), text));

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<NodeCallResult> {
    const fullPath = joinPath(basePath, path);
    const where = `${method} ${fullPath.split('?')[0] ?? fullPath}`;
    const fail = (error: string, failure: FailureClass = 'node'): NodeCallResult => ({ ok: false, error, failure, where });
    if (setupError !== undefined) return fail(clean(setupError));
    const kind = answerKind(method, body);
    const cap = node.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES[kind];
    let status: number;
    let text: string | undefined;
    // undici arms headersTimeout on its coarse timer wheel (about one second of
    // slack) and bodyTimeout only bounds the gap between chunks; the signal makes
    // `timeoutMs` an exact deadline for the whole call.
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      // An answer over the cap is dropped with its connection.
      ({ status, text } = await connections.run((client) =>
        cappedRequest(
          client,
          {
            method,
            path: fullPath,
            headers,
            body: body === undefined ? null : body instanceof JsonText ? body.text : JSON.stringify(body),
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          cap,
          deadline,
        ),
      ));
    } catch (error) {
      if (deadline.aborted) return fail(`timed out after ${timeoutMs} ms`);
      return fail(clean(failureText(error, timeoutMs)));
    }
    if (text === undefined) {
      return fail(`HTTP ${status}: the ${kind} answer is larger than ${cap} bytes (the node's maxAnswerBytes); not read`);
    }
    const parsed = parseObject(text);
    if (status >= 200 && status < 300 && parsed !== undefined && parsed.status === 'success') {
      return { ok: true, body: parsed };
    }
    return fail(`HTTP ${status}: ${firstChars(clean(text), ERROR_BODY_CHARS)}`, failureClass(status, parsed));
  }

  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    // Every call has settled (NodeTransport.close): nothing is left to end gracefully, and at 1,000 nodes
    // destroy took 60-120 ms where close took 140-170 (each connection's graceful end).
    close: () => connections.destroy(),
  };
}

/** HTTP statuses by which a reachable node refuses the records themselves (with a JSON body); any other failure is the node's. */
const RECORD_REJECTION_STATUSES = new Set([400, 409, 413, 422]);

function failureClass(status: number, parsed: Record<string, unknown> | undefined): FailureClass {
  return RECORD_REJECTION_STATUSES.has(status) && parsed !== undefined ? 'records' : 'node';
}

/**
 * Status is the GET; of the two POSTs the contract defines, a pull body carries
 * `ids` and a push body `records`. Telling them apart here keeps the
 * {@link NodeTransport} calls as they are.
 */
function answerKind(method: 'GET' | 'POST', body: unknown): AnswerKind {
  if (method === 'GET') return 'status';
  return Array.isArray((body as { ids?: unknown } | null | undefined)?.ids) ? 'pull' : 'push';
}

/** Each secret as it may appear in an echoed text: bare, JSON-escaped, URL-encoded; longest first. */
function secretForms(secrets: string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === '') continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  return [...forms].filter((form) => form !== '').sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
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
