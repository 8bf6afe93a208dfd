import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BENCH_SERVICE = 'micro.emails.timeline';
export const BENCH_PROTOCOL = 'deliveries';
export const BENCH_PATHS = {
  push: '/api/1.0/deliveries/push.json',
  status: '/api/1.0/deliveries/status.json',
  pull: '/api/1.0/deliveries/pull.json',
} as const;

export interface BenchNodeAddress {
  name: string;
  url: string;
  /** The environment variable the config reads the key from; the key never reaches a file. */
  apiKeyVariable: string;
}

export interface BenchConfigFiles {
  nodes: string;
  services: string;
}

/**
 * Writes the bench's nodes.config.ts and services.config.ts, as a user
 * would: the demo schema (`account` entities, `delivery` records sorted by
 * create_time), nodes without capacity limits, the batch size under test.
 */
export function writeBenchConfig(dir: string, nodes: BenchNodeAddress[], batchSize: number): BenchConfigFiles {
  const files = { nodes: join(dir, 'nodes.config.ts'), services: join(dir, 'services.config.ts') };
  const entries = nodes
    .map(
      (n) => `  {
    name: '${n.name}',
    url: '${n.url}',
    apiKey: process.env.${n.apiKeyVariable},
    services: { '${BENCH_SERVICE}': {} },
    timeoutMs: 120_000,
  },`,
    )
    .join('\n');
  writeFileSync(files.nodes, `import { defineNodes } from 'workmesh';\n\nexport default defineNodes([\n${entries}\n]);\n`);
  writeFileSync(
    files.services,
    `import { defineServices } from 'workmesh';

export default defineServices([
  {
    name: '${BENCH_SERVICE}',
    entity: { table: 'account', id: 'id', node: 'node_for_micro_emails_timeline', weight: 'weight' },
    assign: 'roundrobin',
    protocols: [
      {
        name: '${BENCH_PROTOCOL}',
        table: 'delivery',
        id: 'id',
        sort: 'create_time',
        entityRef: 'id_account',
        batchSize: ${batchSize},
        push: { path: '${BENCH_PATHS.push}' },
        pull: { statusPath: '${BENCH_PATHS.status}', path: '${BENCH_PATHS.pull}', columns: { hash: 'result_hash' } },
      },
    ],
  },
]);
`,
  );
  return files;
}
