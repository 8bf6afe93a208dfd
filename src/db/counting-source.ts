import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { DialectName } from './database-url.js';
import { toDbBoolean } from './db-values.js';

/** What every count of a protocol's records reads from: its records `r`, each with its entity `e` when it has one. */
export interface CountingSource {
  /** `from` clause: the records LEFT JOINed to their entity, so that a record whose entity is gone still counts. */
  from: RawBuilder<unknown>;
  /** The record's entity's node. */
  entityNode: RawBuilder<unknown>;
  /** Where a record's work is: once delivered, the node it went to (its entity's before push_node was recorded); before, its entity's. */
  workNode: RawBuilder<unknown>;
}

/**
 * The counts' view of a protocol's records (the full recount, the live
 * counts, `mesh recount`). `hint` goes after the records' alias (an index
 * hint, flag-index-hints.ts).
 */
export function countingSource(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  hint: RawBuilder<unknown> = sql``,
): CountingSource {
  const { entity } = service;
  const { pushSuccess, pushNode } = protocol.flags;
  const selfEntity = protocol.entityRef === undefined;
  const entityNode = selfEntity ? sql.ref(`r.${entity.node}`) : sql.ref(`e.${entity.node}`);
  const records = sql`${sql.table(protocol.table)} r${hint}`;
  const from = selfEntity
    ? records
    : sql`${records} left join ${sql.table(entity.table)} e on e.${sql.ref(entity.id)} = r.${sql.ref(protocol.entityRef!)}`;
  const workNode = sql`(case when r.${sql.ref(pushSuccess)} = ${toDbBoolean(dialect, true)} then coalesce(r.${sql.ref(pushNode)}, ${entityNode}) else ${entityNode} end)`;
  return { from, entityNode, workNode };
}
