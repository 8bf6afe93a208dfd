import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import { createHttpTransport } from '../src/nodes/http-transport.js';
import { BENCH_PATHS } from './bench-config.js';
import type { BenchNode } from './bench-nodes.js';

const POLL_MS = 200;

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
  const { entity } = service;
  const expected = new Map<string, string>();
  for (const node of nodes) {
    const { rows } = await sql<{ id: unknown }>`
      select r.${sql.ref(protocol.id)} as id from ${sql.table(protocol.table)} r
      join ${sql.table(entity.table)} e on e.${sql.ref(entity.id)} = r.${sql.ref(protocol.entityRef!)}
      where e.${sql.ref(entity.node)} = ${node.name}
      order by r.${sql.ref(protocol.sort)} desc, r.${sql.ref(protocol.id)} desc
      limit 1`.execute(database.db);
    if (rows[0]) expected.set(node.name, String(rows[0].id));
  }
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
