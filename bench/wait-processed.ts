import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import { createHttpTransport } from '../src/nodes/http-transport.js';
import { BENCH_PATHS } from './bench-config.js';
import type { BenchNode } from './bench-nodes.js';

const POLL_MS = 200;

/**
 * Each node's last record in `(sort, id)` order, read backwards from the end
 * of the delivered range (`push_success = TRUE`, a range of the push index)
 * until every node has one: the entities are spread over the nodes, so the
 * last thousands of records hold them all. (A query per node, joined on the
 * entity's node and sorted, took minutes each at 10 million records on MariaDB.)
 */
async function lastDeliveredIds(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodes: BenchNode[],
): Promise<Map<string, string>> {
  const { entity } = service;
  const wanted = new Set(nodes.map((n) => n.name));
  const expected = new Map<string, string>();
  const yes = database.dialect === 'sqlite' ? 1 : true;
  const page = 10_000;
  for (let offset = 0; expected.size < wanted.size; offset += page) {
    const { rows } = await sql<{ id: unknown; node: unknown }>`
      select r.${sql.ref(protocol.id)} as id, e.${sql.ref(entity.node)} as node from ${sql.table(protocol.table)} r
      join ${sql.table(entity.table)} e on e.${sql.ref(entity.id)} = r.${sql.ref(protocol.entityRef!)}
      where r.${sql.ref(protocol.flags.pushSuccess)} = ${yes}
      order by r.${sql.ref(protocol.flags.pushSuccess)} desc, r.${sql.ref(protocol.sort)} desc, r.${sql.ref(protocol.id)} desc
      limit ${page} offset ${offset}`.execute(database.db);
    for (const row of rows) {
      const node = String(row.node);
      if (wanted.has(node) && !expected.has(node)) expected.set(node, String(row.id));
    }
    if (rows.length < page) break;
  }
  return expected;
}

/**
 * Waits until every node reports, on its status endpoint, the last record it
 * was sent as processed, so that a pull measured next pulls rather than waits.
 * Returns the seconds waited.
 */
export async function waitUntilProcessed(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodes: BenchNode[],
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  const expected = await lastDeliveredIds(database, service, protocol, nodes);
  const transports = nodes.map((node) => ({
    node,
    transport: createHttpTransport({ name: node.name, url: node.url, apiKey: node.apiKey, services: {}, timeoutMs: 30_000 }),
  }));
  try {
    for (;;) {
      const answers = await Promise.all(transports.map(({ transport }) => transport.get(BENCH_PATHS.status)));
      const behind = transports.filter(({ node }, i) => {
        const answer = answers[i]!;
        const want = expected.get(node.name);
        return want !== undefined && !(answer.ok && String(answer.body.lastProcessedId) === want);
      });
      if (behind.length === 0) return (Date.now() - started) / 1000;
      if (Date.now() - started > timeoutMs)
        throw new Error(`nodes ${behind.map((b) => b.node.name).join(', ')} did not process everything within ${timeoutMs / 1000} s`);
      await sleep(POLL_MS);
    }
  } finally {
    await Promise.all(transports.map(({ transport }) => transport.close()));
  }
}
