import type { MeshConfig } from '../config/mesh-config.js';
import { readNodeLoads, readStrayNodes } from '../assign/read-node-loads.js';
import type { Database } from '../db/open-database.js';
import { readNodeHealth } from '../health/node-health.js';
import { addCounts, countRecords, zeroCounts, type RecordCounts } from './count-records.js';
import { publicUrl } from './public-url.js';

export interface NodeReportRow extends RecordCounts {
  name: string;
  /** Without any credentials; null for a node no longer in nodes.config.ts that still holds entities. */
  url: string | null;
  services: string[];
  entities: number;
  weight: number;
  /** `failing` while the node's last call failed by its own fault (workmesh_node_health), else `ok`. */
  health: 'ok' | 'failing';
  /** ISO 8601 times and the last error while failing; null when ok. */
  failingSince: string | null;
  lastError: string | null;
  nextTryAt: string | null;
}

/** `mesh --nodes`: workload per node. Reads only. */
export async function nodeReport(database: Database, config: MeshConfig): Promise<NodeReportRow[]> {
  const rows = new Map<string, NodeReportRow>();
  const rowOf = (name: string): NodeReportRow => {
    let row = rows.get(name);
    if (!row) {
      row = { name, url: null, services: [], entities: 0, weight: 0, ...zeroCounts(), health: 'ok', failingSince: null, lastError: null, nextTryAt: null };
      rows.set(name, row);
    }
    return row;
  };
  for (const node of config.nodes) {
    const row = rowOf(node.name);
    row.url = publicUrl(node.url);
    row.services = Object.keys(node.services);
  }
  for (const service of config.services) {
    // Nodes gone from nodes.config.ts that still hold entities are counted too, as if they still ran the service.
    const stray = await readStrayNodes(database.db, config, service);
    const counted: MeshConfig =
      stray.length === 0
        ? config
        : { ...config, nodes: [...config.nodes, ...stray.map((name) => ({ name, url: '', apiKey: undefined, services: { [service.name]: {} } }))] };
    for (const load of await readNodeLoads(database.db, counted, service)) {
      const row = rowOf(load.name);
      row.entities += load.entities;
      row.weight += load.weight;
    }
    for (const protocol of service.protocols) {
      const counts = await countRecords(database.db, database.dialect, service, protocol, { byNode: true });
      for (const [node, count] of counts) addCounts(rowOf(node), count);
    }
  }
  for (const [name, health] of await readNodeHealth(database.db)) {
    const row = rows.get(name);
    if (row === undefined || health.failingSince === null) continue;
    row.health = 'failing';
    row.failingSince = new Date(health.failingSince).toISOString();
    row.lastError = health.lastError;
    row.nextTryAt = health.nextTryAt === null ? null : new Date(health.nextTryAt).toISOString();
  }
  return [...rows.values()];
}
