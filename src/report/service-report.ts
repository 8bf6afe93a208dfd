import { sql } from 'kysely';
import { nodesOfService, type MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toCount } from '../db/db-values.js';
import { addCounts, countRecords, zeroCounts, type RecordCounts } from './count-records.js';

export interface ServiceReportRow extends RecordCounts {
  service: string;
  /** Nodes that run the service. */
  nodes: number;
  /** Rows of the entity table. */
  entities: number;
  /** Of those, the ones no node has. */
  unassigned: number;
}

/** `mesh --services`: per service, its nodes and its records by state. Reads only. */
export async function serviceReport(database: Database, config: MeshConfig): Promise<ServiceReportRow[]> {
  const report: ServiceReportRow[] = [];
  for (const service of config.services) {
    const { entity } = service;
    const totals = await database.db
      .selectFrom(entity.table)
      .select([
        sql<number>`count(*)`.as('entities'),
        sql<number>`sum(case when ${sql.ref(entity.node)} is null then 1 else 0 end)`.as('unassigned'),
      ])
      .executeTakeFirstOrThrow();
    const counts = zeroCounts();
    for (const protocol of service.protocols) {
      const whole = await countRecords(database.db, database.dialect, service, protocol, { whole: true });
      addCounts(counts, whole.get('') ?? zeroCounts());
    }
    report.push({
      service: service.name,
      nodes: nodesOfService(config, service.name).length,
      entities: toCount(totals.entities),
      unassigned: toCount(totals.unassigned),
      ...counts,
    });
  }
  return report;
}
