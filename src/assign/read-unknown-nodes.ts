import { sql } from 'kysely';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toCount, toDbBoolean } from '../db/db-values.js';

/** Work that sits on a node name nodes.config.ts no longer declares (renamed or removed). */
export interface UnknownNode {
  node: string;
  /** Entities of each service whose node column names it. */
  entities: Record<string, number>;
  /** Records delivered to it (push_node) whose results were not pulled yet, per service. */
  unpulled: Record<string, number>;
}

/**
 * Finds node names held in the entity node columns, or in the push_node flag
 * of records delivered and not pulled yet, that nodes.config.ts does not
 * declare. Such work is otherwise skipped without a word: push finds no node
 * to send to, pull no node to ask, assign counts the renamed node as empty.
 * One GROUP BY per entity table and per protocol with a pull; reads only.
 */
export async function readUnknownNodes(database: Database, config: MeshConfig): Promise<UnknownNode[]> {
  const known = config.nodes.map((n) => n.name);
  const found = new Map<string, UnknownNode>();
  const entry = (node: string): UnknownNode => {
    let e = found.get(node);
    if (!e) found.set(node, (e = { node, entities: {}, unpulled: {} }));
    return e;
  };
  const notKnown = (column: string) =>
    known.length === 0 ? sql`${sql.ref(column)} is not null` : sql`${sql.ref(column)} not in (${sql.join(known)})`;
  const yes = toDbBoolean(database.dialect, true);
  for (const service of config.services) {
    const { entity } = service;
    const { rows } = await sql<{ node: string; n: unknown }>`
      select ${sql.ref(entity.node)} as node, count(*) as n from ${sql.table(entity.table)}
      where ${notKnown(entity.node)} group by ${sql.ref(entity.node)}`.execute(database.db);
    for (const row of rows) entry(String(row.node)).entities[service.name] = toCount(row.n);
    for (const protocol of service.protocols.filter((p) => p.pull !== undefined)) {
      const { flags } = protocol;
      // The (pull_success, push_success, ...) index pull reads: only the records still waiting for their result.
      const { rows: records } = await sql<{ node: string; n: unknown }>`
        select ${sql.ref(flags.pushNode)} as node, count(*) as n from ${sql.table(protocol.table)}
        where ${sql.ref(flags.pullSuccess)} is null and ${sql.ref(flags.pushSuccess)} = ${yes} and ${notKnown(flags.pushNode)}
        group by ${sql.ref(flags.pushNode)}`.execute(database.db);
      for (const row of records) {
        const e = entry(String(row.node));
        e.unpulled[service.name] = (e.unpulled[service.name] ?? 0) + toCount(row.n);
      }
    }
  }
  return [...found.values()];
}
