import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { assignService } from '../../src/assign/assign-service.js';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import type { NodeConfig } from '../../src/config/node-config.js';
import type { ProtocolConfig, ServiceConfig } from '../../src/config/service-config.js';
import type { DialectName } from '../../src/db/database-url.js';
import { toDbTime } from '../../src/db/db-values.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { startNodeProcesses, type NodeProcess, type NodeProcesses } from './node-processes.js';
import { RecordingProxy } from './recording-proxy.js';
import { createSaasSchema, MESH_BIN, REPO_ROOT, toMeshConfig, type MeshRun } from './saas-fixture.js';
import { createTestDatabase } from './test-databases.js';

/**
 * Building blocks for the push and pull suites: a SaaS database (`account`
 * entities, `delivery` records) whose sort order differs from id order, a
 * configuration with one protocol named per test (so that the node processes
 * of a suite can be shared: each test's records live under its own protocol
 * there), readers for the flags and for what a node stored, and `mesh` as a
 * child process that a test can signal.
 */

export const SERVICE = 'micro.emails.timeline';
export const NODE_COLUMN = 'node_for_micro_emails_timeline';
/** 2024-01-01T00:00:00Z. */
export const BASE_TIME_MS = Date.UTC(2024, 0, 1);

export function protocolPaths(protocol: string): { push: string; status: string; pull: string } {
  const base = `/api/1.0/${protocol}`;
  return { push: `${base}/push.json`, status: `${base}/status.json`, pull: `${base}/pull.json` };
}

export interface MeshNodeSpec {
  name: string;
  url: string;
  apiKey: string;
  timeoutMs?: number;
}

export interface MeshSpec {
  protocol: string;
  nodes: MeshNodeSpec[];
  batchSize: number;
  maxAttempts?: number;
  /** Whether the protocol pulls results (into result_hash); true when left out. */
  pull?: boolean;
  /** The service's automatic failover; off when left out. */
  failover?: { afterMs: number };
}

/** The configuration as plain objects, the same shape nodes.config.ts and services.config.ts export. */
export function meshConfigObjects(spec: MeshSpec): { nodes: NodeConfig[]; services: ServiceConfig[] } {
  const nodes: NodeConfig[] = spec.nodes.map((n) => ({
    name: n.name,
    url: n.url,
    apiKey: n.apiKey,
    services: { [SERVICE]: {} },
    timeoutMs: n.timeoutMs ?? 10_000,
  }));
  const paths = protocolPaths(spec.protocol);
  const protocol: ProtocolConfig = {
    name: spec.protocol,
    table: 'delivery',
    id: 'id',
    sort: 'create_time',
    entityRef: 'id_account',
    batchSize: spec.batchSize,
    push: { path: paths.push },
    ...(spec.maxAttempts !== undefined && { maxAttempts: spec.maxAttempts }),
    ...(spec.pull !== false && { pull: { statusPath: paths.status, path: paths.pull, columns: { hash: 'result_hash' } } }),
  };
  const services: ServiceConfig[] = [
    {
      name: SERVICE,
      entity: { table: 'account', id: 'id', node: NODE_COLUMN, weight: 'weight' },
      assign: 'roundrobin',
      protocols: [protocol],
      ...(spec.failover && { failover: spec.failover }),
    },
  ];
  return { nodes, services };
}

export function meshConfig(spec: MeshSpec, change?: (objects: { nodes: NodeConfig[]; services: ServiceConfig[] }) => void): MeshConfig {
  const objects = meshConfigObjects(spec);
  change?.(objects);
  return toMeshConfig(objects);
}

export function serviceOf(config: MeshConfig): { service: ResolvedService; protocol: ResolvedProtocol } {
  const service = config.services[0]!;
  return { service, protocol: service.protocols[0]! };
}

export interface ConfigFileCode {
  /** Source of a `push.fn` replacing `push.path`, e.g. `async (records, node, ctx) => { ... }`. */
  pushFn?: string;
  /** Source of a `pull.fn` replacing `pull.columns`. */
  pullFn?: string;
  /** Lines put at the top of services.config.ts (imports). */
  preamble?: string;
}

/**
 * Writes nodes.config.ts and services.config.ts into `dir` as a user would,
 * with functions spliced in as source. Returns the `mesh` arguments that point to them.
 */
export function writeMeshConfig(dir: string, spec: MeshSpec, code: ConfigFileCode = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const { nodes, services } = meshConfigObjects(spec);
  const protocol = services[0]!.protocols[0]!;
  if (code.pushFn !== undefined) protocol.push = { fn: '__PUSH_FN__' as never };
  if (code.pullFn !== undefined && protocol.pull)
    protocol.pull = { statusPath: protocol.pull.statusPath, path: protocol.pull.path, fn: '__PULL_FN__' as never };
  const nodesConfig = join(dir, 'nodes.config.ts');
  const servicesConfig = join(dir, 'services.config.ts');
  writeFileSync(nodesConfig, `import { defineNodes } from 'workmesh';\n\nexport default defineNodes(${JSON.stringify(nodes, null, 2)});\n`);
  let servicesText = JSON.stringify(services, null, 2);
  if (code.pushFn !== undefined) servicesText = servicesText.replace('"__PUSH_FN__"', code.pushFn);
  if (code.pullFn !== undefined) servicesText = servicesText.replace('"__PULL_FN__"', code.pullFn);
  writeFileSync(
    servicesConfig,
    `import { defineServices } from 'workmesh';\n${code.preamble ?? ''}\n\nexport default defineServices(${servicesText});\n`,
  );
  return ['--nodes-config', nodesConfig, '--services-config', servicesConfig];
}

export interface SaasDatabase {
  database: Database;
  url: string;
  dialect: DialectName;
  cleanup(): Promise<void>;
}

/** A database of its own with the `account` and `delivery` tables, empty. */
export async function createSaasDatabase(dialect: DialectName): Promise<SaasDatabase> {
  const test = await createTestDatabase(dialect);
  const database = await openDatabase(test.url);
  try {
    await createSaasSchema(database);
  } catch (error) {
    await database.close();
    await test.drop();
    throw error;
  }
  return {
    database,
    url: test.url,
    dialect,
    cleanup: async () => {
      await database.close();
      await test.drop();
    },
  };
}

/** The whole numbers `from..to`, both included. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export async function insertAccounts(database: Database, ids: number[]): Promise<void> {
  await database.db
    .insertInto('account')
    .values(ids.map((id) => ({ id, name: `Account ${id}`, weight: 1 })))
    .execute();
}

export interface SeedRecord {
  id: number;
  account: number;
  timeMs: number;
  subject?: string;
}

/**
 * Records `from..to` spread over `accounts` in turn, whose times do NOT grow
 * with the id: record k is at base + ((k × 37) mod 50) seconds (plus
 * `offsetMs`), so (sort, id) order differs from id order and several records
 * share a time (the id breaks the tie).
 */
export function scrambledRecords(options: {
  from: number;
  to: number;
  accounts: number;
  offsetMs?: number;
  subject?: (id: number) => string;
}): SeedRecord[] {
  const records: SeedRecord[] = [];
  for (let id = options.from; id <= options.to; id++) {
    records.push({
      id,
      account: ((id - 1) % options.accounts) + 1,
      timeMs: BASE_TIME_MS + (options.offsetMs ?? 0) + ((id * 37) % 50) * 1000,
      ...(options.subject && { subject: options.subject(id) }),
    });
  }
  return records;
}

/**
 * Inserts records as the SaaS does, retrying a deadlock as a SaaS must: on
 * MariaDB a move with `--repush` clears an entity's flags through the
 * entity index, whose gap locks an insert of that entity's records may
 * cross, and InnoDB then rolls back the smaller transaction, the insert.
 */
export async function insertRecords(database: Database, records: SeedRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 200) {
    const insert = database.db.insertInto('delivery').values(
      records.slice(i, i + 200).map((r) => ({
        id: r.id,
        id_account: r.account,
        create_time: toDbTime(database.dialect, new Date(r.timeMs)),
        subject: r.subject ?? `Delivery ${r.id}`,
        result_hash: null,
      })),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await insert.execute();
        break;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= 5 || (code !== 'ER_LOCK_DEADLOCK' && code !== '40P01')) throw error;
      }
    }
  }
}

/** `mesh migrate` and `mesh assign`, in process. */
export async function migrateAndAssign(database: Database, config: MeshConfig): Promise<void> {
  const migrated = await migrateDatabase(database, config, { dryRun: false });
  if (migrated.problems.length > 0) throw new Error(`migrate: ${migrated.problems.join('; ')}`);
  for (const service of config.services) await assignService(database.db, config, service);
}

export interface RecordInfo {
  id: number;
  account: number;
  node: string | null;
  /** Position in (sort, id) order over the whole table. */
  rank: number;
}

/** Every record with its entity's node and its place in (sort, id) order, computed here, not by the engine. */
export async function readRecords(database: Database): Promise<Map<number, RecordInfo>> {
  const rows = await database.db
    .selectFrom('delivery as d')
    .innerJoin('account as a', 'a.id', 'd.id_account')
    .select(['d.id as id', 'd.id_account as account', 'd.create_time as time', `a.${NODE_COLUMN} as node`])
    .execute();
  const records = rows.map((r) => ({
    id: Number(r.id),
    account: Number(r.account),
    node: (r.node as string | null) ?? null,
    time: new Date(r.time as string | Date).getTime(),
  }));
  records.sort((a, b) => a.time - b.time || a.id - b.id);
  return new Map(records.map((r, rank) => [r.id, { id: r.id, account: r.account, node: r.node, rank }]));
}

/** Ids of the records of entities on `node`, in (sort, id) order. */
export function idsOnNode(records: Map<number, RecordInfo>, node: string): number[] {
  return [...records.values()]
    .filter((r) => r.node === node)
    .sort((a, b) => a.rank - b.rank)
    .map((r) => r.id);
}

export interface RecordFlags {
  pushSuccess: boolean | null;
  pushError: string | null;
  pushAttempts: number;
  pullSuccess: boolean | null;
  pullError: string | null;
  resultHash: string | null;
}

function toBool(value: unknown): boolean | null {
  if (value === null || value === undefined) return null;
  return value === true || value === 1 || value === '1' || value === 't';
}

/** The flag columns of every record of the protocol (default names `<protocol>_<flag>`). */
export async function readFlags(database: Database, protocol: string, options: { pull?: boolean } = {}): Promise<Map<number, RecordFlags>> {
  const pull = options.pull !== false;
  const columns = [
    'id',
    'result_hash',
    `${protocol}_push_success`,
    `${protocol}_push_error`,
    `${protocol}_push_attempts`,
    ...(pull ? [`${protocol}_pull_success`, `${protocol}_pull_error`] : []),
  ];
  const rows = await database.db.selectFrom('delivery').select(columns).execute();
  return new Map(
    rows.map((r) => [
      Number(r.id),
      {
        pushSuccess: toBool(r[`${protocol}_push_success`]),
        pushError: (r[`${protocol}_push_error`] as string | null) ?? null,
        pushAttempts: Number(r[`${protocol}_push_attempts`] ?? 0),
        pullSuccess: pull ? toBool(r[`${protocol}_pull_success`]) : null,
        pullError: pull ? ((r[`${protocol}_pull_error`] as string | null) ?? null) : null,
        resultHash: (r.result_hash as string | null) ?? null,
      },
    ]),
  );
}

export interface StoredRecord {
  id: number;
  seq: number;
  done: boolean;
  result: Record<string, unknown> | null;
  error: string | null;
}

/** What a demo node process holds for a protocol, in the order it received the records. */
export function readNodeStore(dataFile: string, protocol: string): StoredRecord[] {
  const db = new BetterSqlite3(dataFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT seq, record_id, done, result, error FROM micro_records WHERE protocol = ? ORDER BY seq')
      .all(protocol) as { seq: number; record_id: string; done: number; result: string | null; error: string | null }[];
    return rows.map((r) => ({
      id: Number(JSON.parse(r.record_id)),
      seq: r.seq,
      done: r.done === 1,
      result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
      error: r.error,
    }));
  } finally {
    db.close();
  }
}

/** Lease rows, as the engine keeps them. */
export async function readLeases(database: Database): Promise<{ stream: string; owner: string; expiresAt: number }[]> {
  const rows = await database.db.selectFrom('workmesh_lease').selectAll().execute();
  return rows.map((r) => ({ stream: String(r.stream), owner: String(r.owner), expiresAt: Number(r.expires_at) }));
}

export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface MeshProcess {
  child: ChildProcess;
  /** Settles when the process has exited and its output is read. */
  done: Promise<MeshRun & { signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts the built `mesh` (`node dist/cli/mesh.js ARGS`) and hands the child
 * over, so that a test can signal it. NO_COLOR is set; WORKMESH_DB is not
 * inherited. Killed after `timeoutMs` (60 s) so that a hung process fails the test.
 */
export function spawnMesh(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string; timeoutMs?: number } = {},
): MeshProcess {
  const inherited = { ...process.env };
  delete inherited.WORKMESH_DB;
  const child = spawn(process.execPath, [MESH_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...inherited, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<MeshRun & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `mesh ARGS` to its end. */
export function mesh(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<MeshRun & { signal: NodeJS.Signals | null }> {
  return spawnMesh(args, env, options).done;
}

/**
 * Checks a node's delivery log against the (sort, id) order: the first
 * arrival of every record comes after the first arrival of every record
 * before it in order, and a record arriving again is one of `resendable`
 * (re-sends of batches the master never saw confirmed). Returns a
 * description of the first violation, or undefined.
 */
export function orderViolation(
  received: number[],
  records: Map<number, RecordInfo>,
  resendable: ReadonlySet<number> = new Set(),
): string | undefined {
  const seen = new Set<number>();
  let lastRank = -1;
  for (const [i, id] of received.entries()) {
    const info = records.get(id);
    if (info === undefined) return `position ${i}: unknown record ${id}`;
    if (seen.has(id)) {
      if (!resendable.has(id)) return `position ${i}: record ${id} arrived again but was confirmed before`;
      continue;
    }
    seen.add(id);
    if (info.rank <= lastRank) return `position ${i}: record ${id} (rank ${info.rank}) arrived after rank ${lastRank}`;
    lastRank = info.rank;
  }
  return undefined;
}

export interface NodeCluster {
  /** Demo node processes; proxies of every test point at them. */
  processes: NodeProcesses;
  /** A protocol name no other test of this cluster used; every node serves it. */
  nextProtocol(): string;
  stop(): Promise<void>;
}

/**
 * Starts `count` demo node processes serving `protocols` protocols named
 * t1..tN, for one test file: each test takes its own protocol, so its
 * records never meet another test's in the nodes' stores.
 */
export async function startCluster(count = 3, protocols = 40): Promise<NodeCluster> {
  const names = Array.from({ length: protocols }, (_, i) => `t${i + 1}`);
  const processes = await startNodeProcesses(count, { protocols: names });
  let next = 0;
  return {
    processes,
    nextProtocol() {
      const name = names[next++];
      if (name === undefined) throw new Error(`startCluster: all ${protocols} protocols are taken; start more`);
      return name;
    },
    stop: () => processes.stop(),
  };
}

export interface MeshTest extends SaasDatabase {
  protocol: string;
  /** proxies[i] stands for node `node${i + 1}` and forwards to one of the cluster's processes. */
  proxies: RecordingProxy[];
  /** The demo node process behind each proxy. */
  backends: NodeProcess[];
  /** node1..nodeN at their proxy's URL with the right API key. */
  nodes: MeshNodeSpec[];
  cleanup(): Promise<void>;
}

/** A database of its own, a protocol of its own, and `nodeCount` recording proxies in front of the cluster's processes. */
export async function createMeshTest(dialect: DialectName, cluster: NodeCluster, nodeCount: number): Promise<MeshTest> {
  const saas = await createSaasDatabase(dialect);
  const proxies: RecordingProxy[] = [];
  const backends: NodeProcess[] = [];
  try {
    for (let i = 0; i < nodeCount; i++) {
      const backend = cluster.processes.nodes[i % cluster.processes.nodes.length]!;
      backends.push(backend);
      proxies.push(await RecordingProxy.start({ target: backend.url }));
    }
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    await saas.cleanup();
    throw error;
  }
  return {
    ...saas,
    protocol: cluster.nextProtocol(),
    proxies,
    backends,
    nodes: proxies.map((proxy, i) => ({ name: `node${i + 1}`, url: proxy.url, apiKey: backends[i]!.apiKey })),
    cleanup: async () => {
      await Promise.all(proxies.map((p) => p.close()));
      await saas.cleanup();
    },
  };
}
