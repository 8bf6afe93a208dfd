import { sql } from 'kysely';
import { requireService, type MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toDbBoolean } from '../db/db-values.js';

export interface RetryRecordsResult {
  service: string;
  protocol: string;
  /** Of the ids asked for, those that were still dead and are pending again. */
  revived: number;
}

/**
 * Makes the named dead records of one protocol pending again, with their
 * attempts reset, as `mesh retry` does for all of them (retryDeadRecords).
 * Guarded: only records still dead (push_success FALSE) are touched, so a
 * record a push or a retry changed since the page showed it is left alone.
 * One UPDATE per 500 ids, in one transaction.
 */
export async function retryRecords(
  database: Database,
  config: MeshConfig,
  options: { service: string; protocol: string; ids: readonly (string | number)[] },
): Promise<RetryRecordsResult> {
  const service = requireService(config, options.service);
  const protocol = service.protocols.find((p) => p.name === options.protocol);
  if (protocol === undefined) throw new Error(`unknown protocol "${options.protocol}" of service ${service.name}`);
  const { flags } = protocol;
  const dead = toDbBoolean(database.dialect, false);
  let revived = 0;
  await database.db.transaction().execute(async (trx) => {
    for (let i = 0; i < options.ids.length; i += 500) {
      const ids = options.ids.slice(i, i + 500);
      const result = await sql`
        update ${sql.table(protocol.table)} set
          ${sql.ref(flags.pushSuccess)} = null,
          ${sql.ref(flags.pushError)} = null,
          ${sql.ref(flags.pushAttempts)} = 0
        where ${sql.ref(flags.pushSuccess)} = ${dead} and ${sql.ref(protocol.id)} in (${sql.join(ids)})`.execute(trx);
      revived += Number(result.numAffectedRows ?? 0n);
    }
  });
  return { service: service.name, protocol: protocol.name, revived };
}
