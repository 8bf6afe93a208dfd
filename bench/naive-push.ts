import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../src/config/mesh-config.js';
import type { Row } from '../src/config/service-config.js';
import { toDbBoolean, toDbTime } from '../src/db/db-values.js';
import type { Database } from '../src/db/open-database.js';
import { createHttpTransport } from '../src/nodes/http-transport.js';
import { toWireRecord } from '../src/push/wire-record.js';
import type { BenchNode } from './bench-nodes.js';
import { BENCH_SERVICE } from './bench-config.js';
import type { FloorResult } from './floor-pass.js';

/**
 * The way the Ruby gem pushes: per node, its pending records in order, then
 * for each record one HTTP request carrying it alone and one UPDATE of its
 * flags, one record after the other. Runs on `sample` records (an equal
 * share per node) against nodes of its own, so that the nodes store every
 * record for the first time, as in a real push.
 */
export async function naivePush(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodes: BenchNode[],
  sample: number,
): Promise<FloorResult> {
  const { db, dialect } = database;
  const { flags } = protocol;
  const { entity } = service;
  const omitted = new Set(Object.values(flags));
  const share = Math.ceil(sample / nodes.length);
  let records = 0;
  const started = process.hrtime.bigint();
  for (const node of nodes) {
    const transport = createHttpTransport({ name: node.name, url: node.url, apiKey: node.apiKey, services: {}, timeoutMs: 60_000 });
    try {
      // The node column names the bench's main nodes (node1..); these nodes take the same entities under their own names.
      const owner = node.name.replace(/^naive/, 'node');
      const { rows } = await sql<Row>`
        select r.* from ${sql.table(protocol.table)} r
        join ${sql.table(entity.table)} e on e.${sql.ref(entity.id)} = r.${sql.ref(protocol.entityRef!)}
        where e.${sql.ref(entity.node)} = ${owner} and r.${sql.ref(flags.pushSuccess)} is null
        order by r.${sql.ref(protocol.sort)}, r.${sql.ref(protocol.id)}
        limit ${share}`.execute(db);
      for (const row of rows) {
        const answer = await transport.post(protocol.push.path!, {
          service: BENCH_SERVICE,
          protocol: protocol.name,
          records: [toWireRecord(row, omitted)],
        });
        if (!answer.ok) throw new Error(`naive push to ${node.name}: ${answer.error}`);
        await sql`
          update ${sql.table(protocol.table)} set
            ${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)},
            ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, new Date())},
            ${sql.ref(flags.pushError)} = null,
            ${sql.ref(flags.pushNode)} = ${owner},
            ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
          where ${sql.ref(protocol.id)} = ${row[protocol.id]}`.execute(db);
        records++;
      }
    } finally {
      await transport.close();
    }
  }
  return { records, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
