import { sql } from 'kysely';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Row } from '../config/service-config.js';
import type { Database } from '../db/open-database.js';
import { toCount, toDbBoolean } from '../db/db-values.js';
import { recordSource } from '../db/record-source.js';
import { toFailedRecord, type FailedRecord } from './failed-records.js';
import { failedRanges } from './record-states.js';

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
      const source = recordSource(database.dialect, service, protocol);
      const { flags } = protocol;
      const ranges =
        filter.state === 'dead'
          ? [sql`r.${sql.ref(flags.pushSuccess)} = ${toDbBoolean(database.dialect, false)}`]
          : failedRanges(protocol, database.dialect);
      const node = filter.node === undefined ? sql`` : sql` and ${source.nodeIs(filter.node)}`;
      let count = 0;
      for (const range of ranges) {
        const { rows: counted } = await sql<{ total: unknown }>`select count(*) as total from ${source.from} where ${range}${node}`.execute(
          database.db,
        );
        count += toCount(counted[0]?.total);
      }
      total += count;
      const wanted = page.limit - records.length;
      if (skip >= count) {
        skip -= count;
        continue;
      }
      if (wanted <= 0) continue;
      const union = sql.join(
        ranges.map((range) => sql`select ${source.columns} from ${source.from} where ${range}${node}`),
        sql` union all `,
      );
      const { rows } = await sql<Row>`
        select * from (${union}) u
        order by u.${sql.ref(protocol.sort)}, u.${sql.ref(protocol.id)} limit ${wanted} offset ${skip}`.execute(database.db);
      skip = 0;
      for (const row of rows) records.push(toFailedRecord(service.name, protocol, row));
    }
  }
  return { total, records };
}
