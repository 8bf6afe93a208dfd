import type { MeshConfig, ResolvedProtocol } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { readSchema } from '../db/read-schema.js';
import { ensureRecordCountRows } from '../db/record-counts.js';
import { runStage, type StageOptions } from '../stream/run-stage.js';
import type { PullBatchEvent, PullStreamOutcome, PullSummary } from './pull-outcome.js';
import { pullProtocol } from './pull-protocol.js';

export interface PullOptions extends StageOptions {
  onBatch?: (event: PullBatchEvent) => void;
}

/**
 * `mesh pull`: for every protocol with a `pull`, pulls the results of the
 * records processed so far on each (service, node, protocol) stream whose
 * lease it takes. Node failures are in the summary and the flags.
 */
export async function pullRecords(database: Database, config: MeshConfig, options: PullOptions = {}): Promise<PullSummary> {
  const columnTypes = new Map<string, Map<string, string>>();
  const outcomes = await runStage<PullStreamOutcome>(database, config, options, {
    name: 'pull',
    protocols: (service) => service.protocols.filter((p) => p.pull !== undefined),
    newOutcome: (base) => ({ ...base, pulled: 0, failed: 0, notReady: 0 }),
    work: async ({ service, protocol, targets, requests }) => {
      const types = columnTypes.get(protocol.table) ?? (await readColumnTypes(database, protocol));
      columnTypes.set(protocol.table, types);
      const nodes = targets.map((t) => t.node.name);
      await ensureRecordCountRows(database.db, database.dialect, service, protocol, nodes);
      await pullProtocol({
        db: database.db,
        dialect: database.dialect,
        service,
        protocol,
        targets,
        requests,
        columnTypes: types,
        ...(options.signal && { signal: options.signal }),
        ...(options.onBatch && { onBatch: options.onBatch }),
      });
    },
    failed: (all) => all.some((o) => o.failed > 0 || o.error !== undefined),
  });
  return {
    pulled: outcomes.reduce((n, o) => n + o.pulled, 0),
    failed: outcomes.reduce((n, o) => n + o.failed, 0),
    skipped: outcomes.reduce((n, o) => n + (o.skippedRecords ?? 0), 0),
    nodes: outcomes,
  };
}

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_ ]*$/;

/** PostgreSQL needs each bound result cast to its column's type; the others convert on their own. */
async function readColumnTypes(database: Database, protocol: ResolvedProtocol): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  if (database.dialect !== 'postgres' || !protocol.pull?.columns) return types;
  // The table in its own schema (read-schema.ts), never a namesake elsewhere.
  const table = (await readSchema(database, [protocol.table], { indexes: false })).get(protocol.table);
  for (const column of table?.columnTypes.values() ?? []) {
    if (TYPE_NAME.test(column.type)) types.set(column.name, column.type);
  }
  return types;
}
