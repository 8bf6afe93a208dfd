import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type RawBuilder } from 'kysely';
import { loadConfig } from '../src/config/load-config.js';
import type { Database } from '../src/db/open-database.js';
import { writeBenchConfig } from './bench-config.js';
import type { BenchOptions } from './bench-options.js';
import { round, type Measurement } from './bench-report.js';
import { floorPull, floorPush } from './floor-pass.js';
import { fastestOf, Measurer } from './measure.js';
import { runMesh } from './mesh-process.js';
import { resetFlags } from './reset-flags.js';
import { startStubNodeSet } from './stub-node-set.js';

const RESULT_COLUMN = 'result_hash';

/** One node count's figures: the mesh runs and the best-schedule floors, per record. */
export interface NodeScalingRow {
  nodes: number;
  push: Measurement;
  pull: Measurement;
  pushFloor: Measurement;
  pullFloor: Measurement;
  pushMicrosPerRecord: number;
  pullMicrosPerRecord: number;
  /** Against the first node count of the list. */
  pushOverFirst: number;
  pullOverFirst: number;
  pushOverFloor: number;
  pullOverFloor: number;
  /**
   * A run of one record per entity, every node getting a request or two:
   * what a run costs per node whatever its records (connections, status
   * requests, leases), in seconds.
   */
  pushFixed: Measurement;
  pullFixed: Measurement;
  /** The same records by `mesh run --once`: push and pull in one process, on the same connections to the nodes. */
  runFixed: Measurement;
  /** Per record beyond that run's: (full run - fixed run) / (records - fixed run's records). */
  pushMicrosBeyondFixed: number;
  pullMicrosBeyondFixed: number;
  pushBeyondOverFirst: number;
  pullBeyondOverFirst: number;
}

/**
 * `npm run bench -- --nodes 4,20,200 --stub`: the same records and entities
 * pushed and pulled by `mesh` to N stub nodes (one process serving them all,
 * answering at once: the nodes cost nothing), for each N in the list, against
 * the floor written with the best schedule (flags per read batch, id order).
 * The entities are dealt round-robin over the N nodes before each count.
 * Then a run of one record per entity gives what a run costs per node
 * whatever its records, and the full run's cost per record beyond it.
 */
export async function measureNodeScaling(props: {
  dir: string;
  database: Database;
  dbUrl: string;
  options: BenchOptions;
  log: (text: string) => void;
}): Promise<NodeScalingRow[]> {
  const { database, options, log } = props;
  const rows: NodeScalingRow[] = [];
  for (const count of options.nodeCounts) {
    const stubs = await startStubNodeSet(count, 'WORKMESH_BENCH_STUB_KEY');
    try {
      const dir = join(props.dir, `stub-${count}`);
      mkdirSync(dir, { recursive: true });
      const files = writeBenchConfig(dir, stubs.nodes, options.batch);
      const config = await loadConfig(files);
      const service = config.services[0]!;
      const protocol = service.protocols[0]!;
      await dealEntities(database, service.entity.table, service.entity.id, service.entity.node, count);
      const measurer = new Measurer({ dialect: options.dialect, nodePids: [stubs.pid] });
      const mesh = (...command: string[]) =>
        runMesh({
          command: [
            ...command,
            '--db',
            props.dbUrl,
            '--nodes-config',
            files.nodes,
            '--services-config',
            files.services,
            '--concurrency',
            '8',
          ],
          env: process.env,
          nodeFlags: options.meshFlags,
        });
      await resetFlags(database, protocol, 'push', RESULT_COLUMN);
      log(`${count} stub nodes: push floor (best schedule)`);
      const pushFloor = await fastestOf(
        options.floorRuns,
        () => measurer.inProcess(() => floorPush(database, service, protocol, options.batch, 'per-read')),
        () => resetFlags(database, protocol, 'push', RESULT_COLUMN),
      );
      log(`${count} stub nodes: mesh push`);
      const push = await measurer.mesh(() => mesh('push'), 'pushed', options.records);
      log(`${count} stub nodes: pull floor (best schedule)`);
      const pullFloor = await fastestOf(
        options.floorRuns,
        () => measurer.inProcess(() => floorPull(database, service, protocol, options.batch, RESULT_COLUMN, 'per-read')),
        () => resetFlags(database, protocol, 'pull', RESULT_COLUMN),
      );
      log(`${count} stub nodes: mesh pull`);
      const pull = await measurer.mesh(() => mesh('pull'), 'pulled', options.records);
      // The first record of each entity pushed and pulled again, the others done: a run's cost per node.
      const firstOfEntity = sql`${sql.ref(protocol.id)} in (select id from (select min(${sql.ref(protocol.id)}) as id from ${sql.table(
        protocol.table,
      )} group by ${sql.ref(protocol.entityRef ?? protocol.id)}) firsts)`;
      const fixedRecords = await countWhere(database, protocol.table, firstOfEntity);
      await resetFlags(database, protocol, 'push', RESULT_COLUMN, firstOfEntity);
      log(`${count} stub nodes: mesh push and pull of ${fixedRecords} records, one per entity`);
      const pushFixed = await measurer.mesh(() => mesh('push'), 'pushed', fixedRecords);
      const pullFixed = await measurer.mesh(() => mesh('pull'), 'pulled', fixedRecords);
      await resetFlags(database, protocol, 'push', RESULT_COLUMN, firstOfEntity);
      log(`${count} stub nodes: mesh run --once of the same ${fixedRecords} records`);
      const runFixed = await measurer.mesh(() => mesh('run', '--once'), 'pulled', fixedRecords);
      const micros = (m: Measurement) => round((m.seconds / m.records) * 1e6, 2);
      const beyond = (full: Measurement, fixed: Measurement) =>
        round(((full.seconds - fixed.seconds) / (full.records - fixed.records)) * 1e6, 2);
      const first = rows[0];
      rows.push({
        nodes: count,
        push,
        pull,
        pushFloor,
        pullFloor,
        pushMicrosPerRecord: micros(push),
        pullMicrosPerRecord: micros(pull),
        pushOverFirst: first ? round(micros(push) / first.pushMicrosPerRecord) : 1,
        pullOverFirst: first ? round(micros(pull) / first.pullMicrosPerRecord) : 1,
        pushOverFloor: round(push.recordsPerSecond / pushFloor.recordsPerSecond),
        pullOverFloor: round(pull.recordsPerSecond / pullFloor.recordsPerSecond),
        pushFixed,
        pullFixed,
        runFixed,
        pushMicrosBeyondFixed: beyond(push, pushFixed),
        pullMicrosBeyondFixed: beyond(pull, pullFixed),
        pushBeyondOverFirst: first ? round(beyond(push, pushFixed) / first.pushMicrosBeyondFixed) : 1,
        pullBeyondOverFirst: first ? round(beyond(pull, pullFixed) / first.pullMicrosBeyondFixed) : 1,
      });
    } finally {
      await stubs.stop();
    }
  }
  return rows;
}

async function countWhere(database: Database, table: string, where: RawBuilder<unknown>): Promise<number> {
  const { rows } = await sql<{ n: unknown }>`select count(*) as n from ${sql.table(table)} where ${where}`.execute(database.db);
  return Number(rows[0]?.n ?? 0);
}

/** Entity k goes to stub((k mod n) + 1): round-robin over the first n stub nodes, in one UPDATE. */
async function dealEntities(database: Database, table: string, id: string, node: string, count: number): Promise<void> {
  const concat =
    database.dialect === 'mysql'
      ? sql`concat('stub', (${sql.ref(id)} % ${sql.lit(count)}) + 1)`
      : sql`'stub' || ((${sql.ref(id)} % ${sql.lit(count)}) + 1)`;
  await sql`update ${sql.table(table)} set ${sql.ref(node)} = ${concat}`.execute(database.db);
}

export function renderNodeScaling(rows: NodeScalingRow[]): string {
  const header = [
    'nodes',
    'push us/rec',
    'x first',
    'x floor',
    'push RSS MB',
    'pull us/rec',
    'x first',
    'x floor',
    'pull RSS MB',
    'fixed push/pull s',
    'run --once s',
    'beyond: push us/rec',
    'x first',
    'pull us/rec',
    'x first',
  ];
  const lines = rows.map((r) =>
    [
      r.nodes,
      r.pushMicrosPerRecord,
      r.pushOverFirst,
      r.pushOverFloor,
      r.push.peakRssMB ?? '',
      r.pullMicrosPerRecord,
      r.pullOverFirst,
      r.pullOverFloor,
      r.pull.peakRssMB ?? '',
      `${r.pushFixed.seconds}/${r.pullFixed.seconds}`,
      r.runFixed.seconds,
      r.pushMicrosBeyondFixed,
      r.pushBeyondOverFirst,
      r.pullMicrosBeyondFixed,
      r.pullBeyondOverFirst,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padStart(widths[i]!)).join('  ')).join('\n');
}
