import { sql } from 'kysely';
import { nodesOfService, type MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { MoveRefused } from './move-refused.js';
import { markEntitiesMoved } from '../db/entity-moves.js';
import { renameNodeCounts } from '../db/record-counts.js';

export interface RenameNodeResult {
  from: string;
  to: string;
  dryRun: boolean;
  /** Entities whose node column changes, per service. */
  entities: { service: string; entities: number }[];
  /** Records whose push_node changes (delivered to the old name), per protocol. */
  records: { service: string; protocol: string; records: number }[];
}

/**
 * `mesh rename-node --from A --to B`: after a node was renamed in
 * nodes.config.ts, the name in the entity node columns and in the push_node
 * flags follows, all in one transaction, so that push sends to the node
 * under its new name and pull asks it for what was delivered under the old
 * one; the report counters and the node's health follow too. Refused (nothing written) when `to` is not declared, when `from`
 * still is, or when `to` does not run a service `from` holds entities of.
 * `dryRun` counts what would change and writes nothing.
 */
export async function renameNode(
  database: Database,
  config: MeshConfig,
  options: { from: string; to: string; dryRun: boolean },
): Promise<RenameNodeResult> {
  const { from, to, dryRun } = options;
  if (from === to) throw new MoveRefused(`--from and --to are both "${from}"`);
  const declared = config.nodes.map((n) => n.name);
  if (!declared.includes(to)) {
    throw new MoveRefused(`unknown node "${to}": rename it in nodes.config.ts first (it declares: ${declared.join(', ') || 'none'})`);
  }
  if (declared.includes(from)) {
    throw new MoveRefused(
      `node "${from}" is still in nodes.config.ts: a rename is for a name nodes.config.ts no longer has; to move its entities use mesh drain --node ${from}`,
    );
  }
  const result: RenameNodeResult = { from, to, dryRun, entities: [], records: [] };
  const work = async (db: Database['db']) => {
    for (const service of config.services) {
      const { entity } = service;
      const where = sql`${sql.ref(entity.node)} = ${from}`;
      const { rows } = await sql<{ n: unknown }>`select count(*) as n from ${sql.table(entity.table)} where ${where}`.execute(db);
      const entities = Number(rows[0]?.n ?? 0);
      if (entities > 0 && !nodesOfService(config, service.name).some((n) => n.name === to)) {
        throw new MoveRefused(
          `node "${to}" does not run ${service.name}, whose ${entities} entities are on "${from}": add the service to ${to} in nodes.config.ts, or use mesh drain --node ${from}`,
        );
      }
      if (!dryRun && entities > 0) {
        await sql`update ${sql.table(entity.table)} set ${sql.ref(entity.node)} = ${to} where ${where}`.execute(db);
        await markEntitiesMoved(db, service.name);
      }
      result.entities.push({ service: service.name, entities });
      for (const protocol of service.protocols) {
        const pushNode = sql.ref(protocol.flags.pushNode);
        let records: number;
        if (dryRun) {
          const counted = await sql<{
            n: unknown;
          }>`select count(*) as n from ${sql.table(protocol.table)} where ${pushNode} = ${from}`.execute(db);
          records = Number(counted.rows[0]?.n ?? 0);
        } else {
          const updated = await sql`update ${sql.table(protocol.table)} set ${pushNode} = ${to} where ${pushNode} = ${from}`.execute(db);
          records = Number(updated.numAffectedRows ?? 0n);
        }
        result.records.push({ service: service.name, protocol: protocol.name, records });
      }
      if (!dryRun) await renameNodeCounts(db, database.dialect, service, from, to);
    }
  };
  // The node's health (its back-off) follows it, unless the new name has a health row of its own already: that one is newer.
  const renameHealth = async (db: Database['db']) => {
    const taken = await db.selectFrom('workmesh_node_health').select('node').where('node', '=', to).executeTakeFirst();
    if (taken === undefined) await db.updateTable('workmesh_node_health').set({ node: to }).where('node', '=', from).execute();
    else await db.deleteFrom('workmesh_node_health').where('node', '=', from).execute();
  };
  if (dryRun) await work(database.db);
  else
    await database.db.transaction().execute(async (trx) => {
      await work(trx);
      await renameHealth(trx);
    });
  return result;
}
