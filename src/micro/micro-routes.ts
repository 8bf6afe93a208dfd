import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAuthorized, MicroHttpError, parseJsonObject, readBody, sendJson } from './micro-http.js';
import {
  isMicroRecordId,
  recordKey,
  resolveMicroPaths,
  type MicroProtocol,
  type MicroRecord,
  type MicroRecordId,
  type MicroValidation,
} from './micro-protocol.js';
import type { MicroStore } from './micro-store.js';

export type MicroEndpoint = 'push' | 'status' | 'pull';

export interface MicroRoute {
  protocol: string;
  endpoint: MicroEndpoint;
  method: 'GET' | 'POST';
}

const METHODS: Record<MicroEndpoint, 'GET' | 'POST'> = { push: 'POST', status: 'GET', pull: 'POST' };

/** Maps every path to its protocol and endpoint; two endpoints on one path is a mistake in the options. */
export function buildMicroRoutes(protocols: Record<string, MicroProtocol>): Map<string, MicroRoute> {
  const routes = new Map<string, MicroRoute>();
  for (const [protocol, handler] of Object.entries(protocols)) {
    const paths = resolveMicroPaths(protocol, handler.paths);
    for (const endpoint of ['push', 'status', 'pull'] as const) {
      const path = paths[endpoint];
      if (!path.startsWith('/')) throw new Error(`protocols.${protocol}.paths.${endpoint} must start with "/" (got "${path}")`);
      const taken = routes.get(path);
      if (taken !== undefined) {
        throw new Error(`protocols.${protocol}.paths.${endpoint} "${path}" is already the ${taken.endpoint} path of ${taken.protocol}`);
      }
      routes.set(path, { protocol, endpoint, method: METHODS[endpoint] });
    }
  }
  return routes;
}

/** A push-time check of one record (MicroProtocol's `validate`). */
export type MicroValidator = (record: MicroRecord) => MicroValidation | Promise<MicroValidation>;

/** A record refused at push time, as the push answer lists it. */
export interface MicroRejection {
  id: MicroRecordId;
  error: string;
}

export interface MicroHandlerProps {
  apiKey: string;
  routes: Map<string, MicroRoute>;
  store: MicroStore;
  /** Protocols with a `validate` hook, by name. */
  validators: Map<string, MicroValidator>;
  /** Called after a push stored new records of a protocol. */
  onStored(protocol: string): void;
  maxBodyBytes: number;
}

/** The node's request listener: authorization, routing, then one of the three contract endpoints. */
export function createMicroHandler(props: MicroHandlerProps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(props, req, res).catch((error: unknown) => {
      const refused = error instanceof MicroHttpError ? error : undefined;
      const statusCode = refused?.statusCode ?? 500;
      const message = error instanceof Error ? error.message : String(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, statusCode, { status: 'error', message }, refused?.headers);
    });
  };
}

async function handle(props: MicroHandlerProps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Authorization comes first so a caller without the key learns nothing, not even which paths exist.
  if (!isAuthorized(req, props.apiKey)) throw new MicroHttpError(401, 'missing or wrong API key');
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = props.routes.get(path);
  if (route === undefined) throw new MicroHttpError(404, `no endpoint at ${path}`);
  if (req.method !== route.method) {
    throw new MicroHttpError(405, `${path} accepts ${route.method}, not ${req.method ?? 'no method'}`, { allow: route.method });
  }
  const { store } = props;
  switch (route.endpoint) {
    case 'status':
      sendJson(res, 200, { status: 'success', lastProcessedId: store.lastProcessedId(route.protocol) });
      return;
    case 'push': {
      const records = pushedRecords(parseJsonObject(await readBody(req, props.maxBodyBytes)));
      const validate = props.validators.get(route.protocol);
      const { accepted, rejected } =
        validate === undefined ? { accepted: records, rejected: [] } : await screen(store, route.protocol, records, validate);
      const stored = store.insert(route.protocol, accepted);
      if (stored > 0) props.onStored(route.protocol);
      // A v1 answer when nothing was refused: `rejected` is the v1.1 addition.
      sendJson(res, 200, { status: 'success', stored, ...(rejected.length > 0 && { rejected }) });
      return;
    }
    case 'pull': {
      const ids = pulledIds(parseJsonObject(await readBody(req, props.maxBodyBytes)));
      sendJson(res, 200, { status: 'success', results: store.results(route.protocol, ids) });
      return;
    }
  }
}

/**
 * Splits a push into the records to store and those the protocol's `validate`
 * refuses. Records already held skip the check (a re-push is a no-op). Of an
 * id repeated in the batch only the first is checked, the one the store would
 * keep; when it is refused every copy is left out, so the answer never lists
 * as rejected a record that was stored.
 */
async function screen(
  store: MicroStore,
  protocol: string,
  records: MicroRecord[],
  validate: MicroValidator,
): Promise<{ accepted: MicroRecord[]; rejected: MicroRejection[] }> {
  const seen = store.held(protocol, records);
  const refused = new Map<string, MicroRejection>();
  for (const record of records) {
    const key = recordKey(record.id);
    if (seen.has(key)) continue;
    seen.add(key);
    let verdict: MicroValidation;
    try {
      verdict = await validate(record);
    } catch (error) {
      verdict = error instanceof Error ? error.message : String(error);
    }
    if (typeof verdict === 'string') refused.set(key, { id: record.id, error: verdict === '' ? 'rejected by validate' : verdict });
  }
  if (refused.size === 0) return { accepted: records, rejected: [] };
  return { accepted: records.filter((record) => !refused.has(recordKey(record.id))), rejected: [...refused.values()] };
}

function pushedRecords(body: Record<string, unknown>): MicroRecord[] {
  const { records } = body;
  if (!Array.isArray(records)) throw new MicroHttpError(400, 'records must be an array');
  // The batch is all or nothing: one bad record refuses it before anything is stored.
  records.forEach((record: unknown, index) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new MicroHttpError(400, `records[${index}] must be an object`);
    }
    if (!isMicroRecordId((record as { id?: unknown }).id)) {
      throw new MicroHttpError(400, `records[${index}].id must be a number or a non-empty string`);
    }
  });
  return records as MicroRecord[];
}

function pulledIds(body: Record<string, unknown>): MicroRecordId[] {
  const { ids } = body;
  if (!Array.isArray(ids)) throw new MicroHttpError(400, 'ids must be an array');
  ids.forEach((id: unknown, index) => {
    if (!isMicroRecordId(id)) throw new MicroHttpError(400, `ids[${index}] must be a number or a non-empty string`);
  });
  return ids as MicroRecordId[];
}
