import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { MicroProtocol } from './micro-protocol.js';
import { buildMicroRoutes, createMicroHandler, type MicroValidator } from './micro-routes.js';
import { MicroStore } from './micro-store.js';
import { MicroWorker } from './micro-worker.js';

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Limits for a node on the open internet. Node's own defaults (60 s for the
 * headers, checked only every 30 s, 300 s for a request, no cap on
 * connections) let a few hundred slow clients hold a node.
 */
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 256;
/** How long close() waits for requests in progress before it cuts their connections. */
const CLOSE_GRACE_MS = 1_000;
/** The longest delay Node's timers hold. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface MicroNodeTlsOptions {
  /** PEM private key (contents, not a path). */
  key: string | Buffer;
  /** PEM certificate chain (contents, not a path). */
  cert: string | Buffer;
}

export interface MicroNodeOptions {
  /** Every request must carry `Authorization: Bearer <apiKey>`; required. */
  apiKey: string | undefined;
  /** SQLite file holding received records and their outcomes; created when missing. */
  dataFile: string;
  /** The protocols this node serves, by name. */
  protocols: Record<string, MicroProtocol>;
  /** Largest request body accepted; 64 MB when left out. */
  maxBodyBytes?: number;
  /** Serve https with this key and certificate instead of http. */
  tls?: MicroNodeTlsOptions;
  /**
   * Milliseconds a client has to send a request's headers (and, over https,
   * to finish the TLS handshake) once it connected or its previous request
   * ended; 10 s when left out. A slower one is answered 408 and dropped.
   */
  headersTimeoutMs?: number;
  /**
   * Milliseconds a client has to send a whole request, body included; 60 s
   * when left out. Also how long a connection may sit with nothing moving.
   * At least headersTimeoutMs.
   */
  requestTimeoutMs?: number;
  /** Connections held at once; one more is closed as it arrives. 256 when left out. */
  maxConnections?: number;
  /** Failures outside any request (the store failing under a worker); `console.error` when left out. */
  onError?: (error: Error) => void;
}

export interface MicroNodeAddress {
  port: number;
  host: string;
  /** Base URL for the master's `nodes.config.ts`. */
  url: string;
}

export interface MicroNode {
  /** Starts the workers, then listens; `port` 0 (the default) picks a free port. */
  listen(port?: number, host?: string): Promise<MicroNodeAddress>;
  /**
   * Stops taking requests, gives those in progress a second to finish (then
   * cuts their connections), lets the record in progress finish, then closes
   * the data file.
   */
  close(): Promise<void>;
}

/**
 * A node that follows the node contract: it stores pushed records durably,
 * processes them in the order received, and answers status and pull.
 *
 * @example
 * const node = createMicroNode({
 *   apiKey: process.env.API_KEY,
 *   dataFile: './node-data.db',
 *   protocols: { deliveries: { process: async (record) => ({ hash: hashOf(record) }) } },
 * });
 * const { port } = await node.listen(3001, '127.0.0.1');
 */
export function createMicroNode(options: MicroNodeOptions): MicroNode {
  const { apiKey, dataFile, protocols } = options;
  if (apiKey === undefined || apiKey === '') throw new Error('createMicroNode: apiKey is required (is its environment variable set?)');
  validateProtocols(protocols);
  const routes = buildMicroRoutes(protocols);
  const onError = options.onError ?? ((error: Error) => console.error(error));

  const store = new MicroStore({ file: dataFile });
  const workers = new Map(
    Object.entries(protocols).map(([protocol, handler]) => [protocol, new MicroWorker({ protocol, handler, store, onError })]),
  );

  const validators = new Map<string, MicroValidator>();
  for (const [protocol, handler] of Object.entries(protocols)) {
    if (handler.validate !== undefined) validators.set(protocol, handler.validate.bind(handler));
  }

  const listener = createMicroHandler({
    apiKey,
    routes,
    store,
    validators,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    onStored: (protocol) => workers.get(protocol)?.wake(),
  });
  const limits = serverLimits(options);
  const server = options.tls
    ? https.createServer({ ...limits, key: options.tls.key, cert: options.tls.cert, handshakeTimeout: limits.headersTimeout }, listener)
    : http.createServer(limits, listener);
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // A connection on which nothing moves (a client that stopped reading an answer) is dropped too.
  server.setTimeout(limits.requestTimeout);

  let closing: Promise<void> | undefined;
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    // A keep-alive connection that finishes its request while the node closes
    // would otherwise hold server.close() open until the client lets go.
    res.on('finish', () => {
      if (closing !== undefined) setImmediate(() => server.closeIdleConnections());
    });
  });

  return {
    async listen(port = 0, host = '127.0.0.1') {
      if (closing !== undefined) throw new Error('micro node is closed');
      if (server.listening) throw new Error('micro node is already listening');
      for (const worker of workers.values()) worker.start();
      await new Promise<void>((resolve, reject) => {
        const fail = (error: Error): void => reject(error);
        server.once('error', fail);
        server.listen(port, host, () => {
          server.off('error', fail);
          resolve();
        });
      });
      if (closing !== undefined) {
        // close() ran while the port was being bound and found nothing listening yet.
        server.close();
        throw new Error('micro node was closed while it started listening');
      }
      const address = server.address() as AddressInfo;
      const scheme = options.tls ? 'https' : 'http';
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { port: address.port, host: address.address, url: `${scheme}://${urlHost}:${address.port}` };
    },

    close() {
      closing ??= (async () => {
        // Workers stop taking records at once; a push still in flight is stored and waits for the next start.
        const stopped = Promise.all([...workers.values()].map((worker) => worker.stop()));
        if (server.listening) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          // A client still sending (a slow one, or one that never ends) must not hold the shutdown
          // until its time-out: after a grace period its connection is cut. A push cut so is not
          // answered, so the master sends it again; one already being stored finishes first.
          const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
          await closed;
          clearTimeout(cut);
        }
        await stopped;
        store.close();
      })();
      return closing;
    },
  };
}

/** Node's server options for the time-outs, checked: a wrong value would otherwise surface as a RangeError from node:http. */
function serverLimits(options: MicroNodeOptions): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!(Number.isInteger(value) && value >= 1 && value <= MAX_TIMER_MS)) {
      throw new Error(`createMicroNode: ${name} must be an integer from 1 to ${MAX_TIMER_MS}`);
    }
    return value;
  };
  const headersTimeout = positive('headersTimeoutMs', options.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS);
  const requestTimeout = positive('requestTimeoutMs', options.requestTimeoutMs, Math.max(DEFAULT_REQUEST_TIMEOUT_MS, headersTimeout));
  if (requestTimeout < headersTimeout) throw new Error('createMicroNode: requestTimeoutMs must be at least headersTimeoutMs');
  const { maxConnections } = options;
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) {
    throw new Error('createMicroNode: maxConnections must be a positive integer');
  }
  // Node enforces both time-outs only when it checks its connections, every 30 s by default:
  // check often enough that a time-out is kept to within a quarter of itself, at most a second late.
  const connectionsCheckingInterval = Math.max(10, Math.min(1_000, Math.floor(headersTimeout / 4)));
  return { headersTimeout, requestTimeout, connectionsCheckingInterval };
}

function validateProtocols(protocols: Record<string, MicroProtocol>): void {
  const entries = Object.entries(protocols);
  if (entries.length === 0) throw new Error('createMicroNode: protocols must name at least one protocol');
  for (const [name, protocol] of entries) {
    const single = typeof protocol.process === 'function';
    const batch = typeof protocol.processBatch === 'function';
    if (single === batch) throw new Error(`createMicroNode: protocols.${name} needs process or processBatch (exactly one)`);
    if (protocol.validate !== undefined && typeof protocol.validate !== 'function') {
      throw new Error(`createMicroNode: protocols.${name}.validate must be a function`);
    }
    const { batchSize } = protocol;
    if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new Error(`createMicroNode: protocols.${name}.batchSize must be a positive integer`);
    }
  }
}
