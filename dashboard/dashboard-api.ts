import type { MeshConfig } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import { readNodeHealth, type NodeHealth } from '../src/health/node-health.js';
import { collectMetrics } from '../src/metrics/collect-metrics.js';
import { retryDeadRecords } from '../src/push/retry-dead-records.js';
import { retryRecords } from '../src/push/retry-records.js';
import { countRecords } from '../src/report/count-records.js';
import { entityRecords } from '../src/report/entity-records.js';
import { entityStatus } from '../src/report/entity-status.js';
import { failedRecordsPage, type FailedRecordsFilter } from '../src/report/failed-records-page.js';
import { nodeEntities } from '../src/report/node-entities.js';
import { nodeReport } from '../src/report/node-report.js';
import { runHistory } from '../src/report/run-history.js';
import { serviceReport } from '../src/report/service-report.js';
import { streamActivity, throughput } from '../src/report/stream-activity.js';
import { streamLags } from '../src/report/stream-lag.js';

/** A request the API refuses, with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const PAGE_LIMIT_MAX = 200;

/** What the page shows of a node's health. */
export interface HealthView {
  state: 'ok' | 'failing' | 'backoff';
  failures: number;
  failingSince: number | null;
  nextTryAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
}

function healthView(health: NodeHealth | undefined, now: number): HealthView {
  if (health === undefined) return { state: 'ok', failures: 0, failingSince: null, nextTryAt: null, lastSuccessAt: null, lastError: null };
  const failing = health.failingSince !== null;
  return {
    state: !failing ? 'ok' : health.nextTryAt !== null && health.nextTryAt > now ? 'backoff' : 'failing',
    failures: health.failures,
    failingSince: health.failingSince,
    nextTryAt: health.nextTryAt,
    lastSuccessAt: health.lastSuccessAt,
    lastError: health.lastError,
  };
}

/**
 * The dashboard's JSON API over the engine's report functions (reads) and
 * its retry functions (the one write). Each method takes the query as
 * strings and returns a value to send as JSON.
 */
export class DashboardApi {
  readonly #database: Database;
  readonly #config: MeshConfig;

  constructor(props: { database: Database; config: MeshConfig }) {
    this.#database = props.database;
    this.#config = props.config;
  }

  async overview(query: URLSearchParams): Promise<unknown> {
    const now = Date.now();
    const { db } = this.#database;
    const [services, nodes, health, lags, activity, series] = [
      await serviceReport(this.#database, this.#config),
      await nodeReport(this.#database, this.#config),
      await readNodeHealth(db),
      await streamLags(this.#database, this.#config, now),
      await streamActivity(db),
      await throughput(db, { hours: hoursOf(query), now }),
    ];
    return {
      now,
      services: services.map((service) => ({
        ...service,
        lagMs: maxLag(lags.filter((l) => l.service === service.service).map((l) => l.lagMs)),
      })),
      nodes: nodes.map((node) => ({
        ...node,
        health: healthView(health.get(node.name), now),
        lagMs: maxLag(lags.filter((l) => l.node === node.name).map((l) => l.lagMs)),
        lastSuccessAt: maxOf(activity.filter((a) => a.node === node.name).map((a) => a.lastSuccessAt)),
      })),
      throughput: series,
    };
  }

  async node(name: string, query: URLSearchParams): Promise<unknown> {
    const now = Date.now();
    const node = this.#config.nodes.find((n) => n.name === name);
    if (node === undefined) throw new ApiError(404, `unknown node "${name}"`);
    const { db } = this.#database;
    const health = (await readNodeHealth(db)).get(name);
    const lags = (await streamLags(this.#database, this.#config, now)).filter((l) => l.node === name);
    const activity = await streamActivity(db, { node: name });
    const streams = [];
    for (const service of this.#config.services.filter((s) => Object.hasOwn(node.services, s.name))) {
      for (const protocol of service.protocols) {
        const counts = (await countRecords(db, this.#database.dialect, service, protocol, { byNode: true })).get(name);
        const of = (stage: 'push' | 'pull') =>
          activity.find((a) => a.stage === stage && a.service === service.name && a.protocol === protocol.name);
        streams.push({
          service: service.name,
          protocol: protocol.name,
          pending: counts?.pending ?? 0,
          failed: counts?.failed ?? 0,
          processed: counts?.processed ?? 0,
          lagMs: lags.find((l) => l.service === service.name && l.protocol === protocol.name)?.lagMs ?? 0,
          push: of('push') ?? null,
          pull: protocol.pull ? (of('pull') ?? null) : null,
        });
      }
    }
    const lastRuns = await db
      .selectFrom('workmesh_stream_history')
      .selectAll()
      .where('node', '=', name)
      .orderBy('finished_at', 'desc')
      .limit(20)
      .execute();
    const page = pageOf(query);
    return {
      name,
      health: healthView(health, now),
      /** From the stream history, for a node whose health row holds none. */
      lastSuccessAt: maxOf(activity.map((a) => a.lastSuccessAt)),
      streams,
      lastRuns: lastRuns.map((r) => ({
        stage: r.stage,
        service: r.service,
        protocol: r.protocol,
        startedAt: Number(r.started_at),
        finishedAt: Number(r.finished_at),
        records: Number(r.records),
        failed: Number(r.failed),
        error: r.error ?? null,
      })),
      entities: { ...page, ...(await nodeEntities(this.#database, this.#config, { node: name, ...page })) },
      throughput: await throughput(db, { hours: hoursOf(query), node: name, now }),
    };
  }

  async failed(query: URLSearchParams): Promise<unknown> {
    const filter = this.#filterOf(query);
    const page = pageOf(query);
    return { ...page, ...(await failedRecordsPage(this.#database, this.#config, filter, page)) };
  }

  async entity(query: URLSearchParams): Promise<unknown> {
    const service = this.#serviceOf(query.get('service'));
    const entity = query.get('entity');
    if (!entity) throw new ApiError(400, 'entity is required');
    const status = await entityStatus(this.#database, service, entity);
    if (status === null) throw new ApiError(404, `no entity ${entity} in ${service.name}`);
    const protocol = query.get('protocol') || service.protocols[0]!.name;
    const page = pageOf(query);
    const records = await entityRecords(this.#database, this.#config, { service: service.name, protocol, entity, ...page });
    return { ...status, selected: protocol, ...page, ...records };
  }

  async runs(query: URLSearchParams): Promise<unknown> {
    const page = pageOf(query);
    return { ...page, ...(await runHistory(this.#database.db, page)) };
  }

  metrics(): Promise<string> {
    return collectMetrics(this.#database, this.#config);
  }

  /**
   * `{ service, protocol, ids }`: those records, if still dead;
   * `{ allDead: true, service?, protocol?, node? }`: every dead record of the filter, as `mesh retry` does.
   */
  async retry(body: unknown): Promise<unknown> {
    if (typeof body !== 'object' || body === null) throw new ApiError(400, 'a JSON object is expected');
    const b = body as Record<string, unknown>;
    const text = (key: string) => (typeof b[key] === 'string' && b[key] !== '' ? (b[key] as string) : undefined);
    if (b.allDead === true) {
      const query = new URLSearchParams();
      for (const key of ['service', 'protocol', 'node']) if (text(key) !== undefined) query.set(key, text(key)!);
      const { state: _state, ...filter } = this.#filterOf(query);
      const results = await retryDeadRecords(this.#database, this.#config, filter);
      return { revived: results.reduce((sum, r) => sum + r.revived, 0), results };
    }
    const service = this.#serviceOf(text('service') ?? null);
    const protocol = text('protocol');
    if (protocol === undefined || !service.protocols.some((p) => p.name === protocol))
      throw new ApiError(400, "protocol: one of the service's protocols");
    const ids = b.ids;
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > 1000 ||
      !ids.every((id) => typeof id === 'string' || typeof id === 'number')
    ) {
      throw new ApiError(400, 'ids: 1 to 1000 record ids');
    }
    const result = await retryRecords(this.#database, this.#config, { service: service.name, protocol, ids });
    return { revived: result.revived, results: [result] };
  }

  #serviceOf(name: string | null) {
    const service = this.#config.services.find((s) => s.name === name) ?? (name ? undefined : this.#config.services[0]);
    if (service === undefined) throw new ApiError(400, `unknown service "${name}"`);
    return service;
  }

  #filterOf(query: URLSearchParams): FailedRecordsFilter {
    const service = query.get('service') || undefined;
    const protocol = query.get('protocol') || undefined;
    const node = query.get('node') || undefined;
    const state = query.get('state') || undefined;
    if (service !== undefined && !this.#config.services.some((s) => s.name === service))
      throw new ApiError(400, `unknown service "${service}"`);
    if (node !== undefined && !this.#config.nodes.some((n) => n.name === node)) throw new ApiError(400, `unknown node "${node}"`);
    if (state !== undefined && state !== 'failed' && state !== 'dead') throw new ApiError(400, 'state: failed or dead');
    return {
      ...(service && { service }),
      ...(protocol && { protocol }),
      ...(node && { node }),
      ...(state && { state: state as 'failed' | 'dead' }),
    };
  }
}

function pageOf(query: URLSearchParams): { offset: number; limit: number } {
  const offset = Number(query.get('offset') ?? 0);
  const limit = Number(query.get('limit') ?? 50);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError(400, 'offset: a whole number from 0');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_LIMIT_MAX) throw new ApiError(400, `limit: 1 to ${PAGE_LIMIT_MAX}`);
  return { offset, limit };
}

function hoursOf(query: URLSearchParams): number {
  const hours = Number(query.get('hours') ?? 3);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 7) throw new ApiError(400, 'hours: more than 0, at most 168');
  return hours;
}

function maxLag(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

function maxOf(values: (number | null)[]): number | null {
  return maxLag(values);
}
