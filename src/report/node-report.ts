import type { MeshConfig, ResolvedService } from '../config/mesh-config.js';
import { readNodeLoads, readStrayNodes } from '../assign/read-node-loads.js';
import type { Database } from '../db/open-database.js';
import { readNodeHealth } from '../health/node-health.js';
import { addCounts, countRecords, zeroCounts, type RecordCounts } from './count-records.js';
import { publicUrl } from './public-url.js';

/**
 * One (node, service) of `mesh --nodes`: the load beside the limits, and the
 * records counted where their work is (count-records.ts). The first eight
 * fields are cli.md's v1 row; `service`, `maxEntities` and `maxWeight` came
 * with one row per service.
 */
export interface NodeReportRow extends RecordCounts {
  name: string;
  /** Without any credentials; null for a node no longer in nodes.config.ts that still holds work. */
  url: string | null;
  /** Every service the node runs (the row is about `service`). */
  services: string[];
  entities: number;
  weight: number;
  /** `failing` while the node's last call failed by its own fault (workmesh_node_health), else `ok`. */
  health: 'ok' | 'failing';
  /** ISO 8601 times and the last error while failing; null when ok. */
  failingSince: string | null;
  lastError: string | null;
  nextTryAt: string | null;
  /** Null for a node that runs no service. */
  service: string | null;
  /** The node's limits for the service in nodes.config.ts; null when it sets none. */
  maxEntities: number | null;
  maxWeight: number | null;
}

/** `mesh --nodes`: workload per node and service, nodes in config order, then nodes gone from it. Reads only. */
export async function nodeReport(
  database: Database,
  config: MeshConfig,
  filters: { service?: string; node?: string } = {},
): Promise<NodeReportRow[]> {
  const rows = new Map<string, NodeReportRow>();
  const known = new Map(config.nodes.map((node) => [node.name, node]));
  const rowOf = (name: string, service: string | null): NodeReportRow => {
    const key = JSON.stringify([name, service]);
    let row = rows.get(key);
    if (!row) {
      const node = known.get(name);
      const limits = service === null ? {} : (node?.services[service] ?? {});
      row = {
        name,
        url: node ? publicUrl(node.url) : null,
        services: node ? Object.keys(node.services) : [],
        entities: 0,
        weight: 0,
        ...zeroCounts(),
        health: 'ok',
        failingSince: null,
        lastError: null,
        nextTryAt: null,
        service,
        maxEntities: limits.maxEntities ?? null,
        maxWeight: limits.maxWeight ?? null,
      };
      rows.set(key, row);
    }
    return row;
  };
  const services = config.services.filter((s) => filters.service === undefined || s.name === filters.service);
  for (const node of config.nodes) {
    const runs = services.filter((s) => Object.hasOwn(node.services, s.name));
    if (runs.length === 0 && filters.service === undefined) rowOf(node.name, null);
    for (const service of runs) rowOf(node.name, service.name);
  }
  for (const service of services) await countService(database, config, service, rowOf);
  const all = [...rows.values()];
  const health = await readNodeHealth(database.db);
  for (const row of all) {
    const failing = health.get(row.name);
    if (failing === undefined || failing.failingSince === null) continue;
    row.health = 'failing';
    row.failingSince = new Date(failing.failingSince).toISOString();
    row.lastError = failing.lastError;
    row.nextTryAt = failing.nextTryAt === null ? null : new Date(failing.nextTryAt).toISOString();
  }
  // A node that runs no service needs no row of its own once it holds work of one (gone from its config).
  const withWork = new Set(all.filter((r) => r.service !== null).map((r) => r.name));
  return all.filter((r) => (filters.node === undefined || r.name === filters.node) && (r.service !== null || !withWork.has(r.name)));
}

async function countService(
  database: Database,
  config: MeshConfig,
  service: ResolvedService,
  rowOf: (name: string, service: string | null) => NodeReportRow,
): Promise<void> {
  // Nodes gone from nodes.config.ts that still hold entities are counted too, as if they still ran the service.
  const stray = await readStrayNodes(database.db, config, service);
  const counted: MeshConfig =
    stray.length === 0
      ? config
      : {
          ...config,
          nodes: [...config.nodes, ...stray.map((name) => ({ name, url: '', apiKey: undefined, services: { [service.name]: {} } }))],
        };
  for (const load of await readNodeLoads(database.db, counted, service)) {
    const row = rowOf(load.name, service.name);
    row.entities += load.entities;
    row.weight += load.weight;
  }
  for (const protocol of service.protocols) {
    const counts = await countRecords(database.db, database.dialect, service, protocol, { byNode: true });
    for (const [node, count] of counts) addCounts(rowOf(node, service.name), count);
  }
}
