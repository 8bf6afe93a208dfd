import { sql } from 'kysely';
import type { ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { toCount } from '../db/db-values.js';
import type { EntityId } from './node-load.js';

const CHUNK = 1_000;

/** Records of these entities per protocol: what `--repush` would send again, for a dry run. Reads only. */
export async function countEntityRecords(db: Db, service: ResolvedService, ids: readonly EntityId[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const protocol of service.protocols) {
    let n = 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const { rows } = await sql<{ n: unknown }>`
        select count(*) as n from ${sql.table(protocol.table)}
        where ${sql.ref(protocol.entityRef ?? protocol.id)} in (${sql.join(chunk)})`.execute(db);
      n += toCount(rows[0]?.n);
    }
    counts[protocol.name] = n;
  }
  return counts;
}
