import { expect } from 'vitest';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import type { Database } from '../../src/db/open-database.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { recordCountsBuilt } from '../../src/db/record-counts.js';
import { countRecords, recountRecords, type RecordCounts } from '../../src/report/count-records.js';

type Counts = Record<string, RecordCounts>;

/**
 * The counts the reports give (counters and live ranges) equal a full
 * recount from the records, per node and for the whole protocol, for every
 * protocol; and `mesh recount --dry-run` finds nothing to correct. Returns
 * the counts per protocol (`service/protocol` → node → counts) for tests
 * that assert on them too. Fails when a protocol's counters are not built:
 * then the reports would count in full and this would compare a count with itself.
 */
export async function expectCountsMatchRecount(database: Database, config: MeshConfig, when: string): Promise<Record<string, Counts>> {
  const all: Record<string, Counts> = {};
  for (const service of config.services) {
    for (const protocol of service.protocols) {
      const where = `${when}: ${service.name}/${protocol.name}`;
      expect(await recordCountsBuilt(database.db, service, protocol), `${where}: counters built`).toBe(true);
      const count = async (fast: boolean, scope: { byNode: true } | { whole: true }): Promise<Counts> => {
        const counts = fast
          ? await countRecords(database.db, database.dialect, service, protocol, scope)
          : await recountRecords(database.db, database.dialect, service, protocol, scope);
        // A node whose counts are all zero is the same as a node without any.
        return Object.fromEntries(
          [...counts].filter(([, c]) => c.pending + c.failed + c.processed > 0).sort(([a], [b]) => (a < b ? -1 : 1)),
        );
      };
      const byNode = await count(true, { byNode: true });
      expect({ where, byNode }).toEqual({ where, byNode: await count(false, { byNode: true }) });
      expect({ where, whole: await count(true, { whole: true }) }).toEqual({ where, whole: await count(false, { whole: true }) });
      all[`${service.name}/${protocol.name}`] = byNode;
    }
  }
  const recount = await rebuildRecordCounts(database, config, { dryRun: true });
  expect({ when, corrections: recount.flatMap((r) => r.corrections) }).toEqual({ when, corrections: [] });
  return all;
}
