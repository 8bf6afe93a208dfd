import { sql } from 'kysely';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Row } from '../config/service-config.js';
import type { Database } from '../db/open-database.js';
import { toCount, toDbBoolean } from '../db/db-values.js';
import { flagIndexHints } from '../db/flag-index-hints.js';
import { failedMembers, oldestFirst, toFailedRecord, type FailedRecord } from './failed-records.js';
import { failedRanges, type FailedRange } from './record-states.js';

export interface FailedRecordsFilter {
  service?: string;
  protocol?: string;
  node?: string;
  /** `dead`: given up after maxAttempts (what retry revives); `failed`: every failed record, dead ones included. */
  state?: 'failed' | 'dead';
}

export interface FailedRecordsPage {
  total: number;
  records: FailedRecord[];
}

/**
 * The failed records of a filter, a page at a time: protocol after protocol
 * in configuration order, oldest first within each, with the total for the
 * pager. For the dashboard; `mesh failed` lists through failedRecords. Reads only.
 */
export async function failedRecordsPage(
  database: Database,
  config: MeshConfig,
  filter: FailedRecordsFilter,
  page: { offset: number; limit: number },
): Promise<FailedRecordsPage> {
  const records: FailedRecord[] = [];
  let total = 0;
  let skip = page.offset;
  for (const service of config.services.filter((s) => filter.service === undefined || s.name === filter.service)) {
    for (const protocol of service.protocols.filter((p) => filter.protocol === undefined || p.name === filter.protocol)) {
      const { flags } = protocol;
      const hints = await flagIndexHints(database.db, database.dialect, protocol);
      const ranges: FailedRange[] =
        filter.state === 'dead'
          ? [{ where: sql`r.${sql.ref(flags.pushSuccess)} = ${toDbBoolean(database.dialect, false)}`, index: 'push' }]
          : failedRanges(protocol, database.dialect);
      const members = failedMembers(database.dialect, service, protocol, ranges, hints, (source) =>
        filter.node === undefined ? [] : [source.nodeIs(filter.node)],
      );
      let count = 0;
      for (const member of members) {
        const { rows: counted } = await sql<{ total: unknown }>`select count(*) as total ${member.from}`.execute(database.db);
        count += toCount(counted[0]?.total);
      }
      total += count;
      const wanted = page.limit - records.length;
      if (skip >= count) {
        skip -= count;
        continue;
      }
      if (wanted <= 0) continue;
      const { rows } = await sql<Row>`${oldestFirst(protocol, members)} limit ${wanted} offset ${skip}`.execute(database.db);
      skip = 0;
      for (const row of rows) records.push(toFailedRecord(service.name, protocol, row));
    }
  }
  return { total, records };
}
