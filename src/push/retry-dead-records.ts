import { sql } from 'kysely';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toDbBoolean } from '../db/db-values.js';

export interface RetryResult {
  service: string;
  protocol: string;
  revived: number;
}

/**
 * `mesh retry`: dead records (push_success FALSE after maxAttempts) become
 * pending again with their attempts reset, one UPDATE per protocol, so the
 * next push sends them. Records whose last try failed are retried anyway.
 */
export async function retryDeadRecords(
  database: Database,
  config: MeshConfig,
  options: { service?: string; node?: string; protocol?: string },
): Promise<RetryResult[]> {
  const results: RetryResult[] = [];
  const dead = toDbBoolean(database.dialect, false);
  await database.db.transaction().execute(async (trx) => {
    for (const service of config.services.filter((s) => options.service === undefined || s.name === options.service)) {
      const { entity } = service;
      for (const protocol of service.protocols.filter((p) => options.protocol === undefined || p.name === options.protocol)) {
        const { flags } = protocol;
        const onNode =
          options.node === undefined
            ? sql``
            : protocol.entityRef === undefined
              ? sql`and ${sql.ref(entity.node)} = ${options.node}`
              : sql`and ${sql.ref(protocol.entityRef)} in (select ${sql.ref(entity.id)} from ${sql.table(entity.table)} where ${sql.ref(entity.node)} = ${options.node})`;
        const result = await sql`
          update ${sql.table(protocol.table)} set
            ${sql.ref(flags.pushSuccess)} = null,
            ${sql.ref(flags.pushError)} = null,
            ${sql.ref(flags.pushAttempts)} = 0
          where ${sql.ref(flags.pushSuccess)} = ${dead} ${onNode}`.execute(trx);
        results.push({ service: service.name, protocol: protocol.name, revived: Number(result.numAffectedRows ?? 0n) });
      }
    }
  });
  return results;
}
