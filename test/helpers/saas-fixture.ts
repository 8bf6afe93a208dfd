import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sql, type ColumnDataType, type Expression } from 'kysely';
import { defaultFlagColumn, type MeshConfig } from '../../src/config/mesh-config.js';
import type { NodeConfig } from '../../src/config/node-config.js';
import type { AssignCriterion, FlagName, ProtocolConfig, ServiceConfig } from '../../src/config/service-config.js';
import { validateConfig } from '../../src/config/validate-config.js';
import type { DialectName } from '../../src/db/database-url.js';
import { toDbBoolean, toDbTime } from '../../src/db/db-values.js';
import type { Database } from '../../src/db/open-database.js';
import { packageRoot } from '../../src/package-files.js';

/**
 * A small SaaS database as users have them: `account` rows are the entities,
 * `delivery` rows the records pushed to nodes. Used by the database and CLI
 * suites, the push/pull suites and the benchmarks.
 *
 * @example
 * await createSaasSchema(database);
 * await seedSaas(database, { accounts: 4, recordsPerAccount: 3 });
 * const { nodesConfig, servicesConfig } = writeConfigFiles(dir, { nodes: [{ name: 'node1', url, apiKey }] });
 * const { code, stdout } = await runMesh(['migrate', '--db', url, '--nodes-config', nodesConfig, '--services-config', servicesConfig]);
 */

export const SAAS_SERVICE = 'micro.emails.timeline';
export const SAAS_NODE_COLUMN = 'node_for_micro_emails_timeline';
export const SAAS_PROTOCOL = 'deliveries';
export const SAAS_PATHS = {
  push: '/api/1.0/deliveries/push.json',
  status: '/api/1.0/deliveries/status.json',
  pull: '/api/1.0/deliveries/pull.json',
} as const;
/** 2024-01-01T00:00:00Z: record k is created k seconds after it. */
export const SAAS_START_TIME = new Date(Date.UTC(2024, 0, 1));

type DataType = ColumnDataType | Expression<unknown>;

const TIME_TYPES: Record<DialectName, DataType> = {
  mysql: sql`datetime(3)`,
  postgres: 'timestamptz',
  // SQLite has no time type: ISO 8601 strings, which sort as times do.
  sqlite: 'text',
};

/** Creates `account` and `delivery`, without any of the columns `mesh migrate` adds. */
export async function createSaasSchema(database: Database): Promise<void> {
  const { db } = database;
  await db.schema
    .createTable('account')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('name', 'varchar(100)')
    .addColumn('weight', 'integer')
    .execute();
  await db.schema
    .createTable('delivery')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('id_account', 'integer', (col) => col.notNull())
    // NOT NULL, as a real create time is: `mesh migrate` warns of a nullable sort column.
    .addColumn('create_time', TIME_TYPES[database.dialect], (col) => col.notNull())
    .addColumn('subject', 'varchar(200)')
    .addColumn('result_hash', 'varchar(64)')
    .execute();
}

export interface SeedOptions {
  accounts: number;
  recordsPerAccount: number;
  /** Record k is created at startTime + k seconds; SAAS_START_TIME when left out. */
  startTime?: Date;
  /** Weight of account i (1-based); 1 when left out. */
  accountWeight?: (i: number) => number;
}

/** Rows per INSERT: 5 parameters each stays far below every driver's limit (SQLite's is 32766). */
const INSERT_ROWS = 1_000;

/**
 * Inserts accounts 1..N and N × recordsPerAccount deliveries. Delivery ids
 * grow with time and are interleaved across accounts: delivery k belongs to
 * account ((k - 1) % N) + 1 and was created at startTime + k seconds.
 * Multi-row INSERTs in one transaction.
 */
export async function seedSaas(database: Database, options: SeedOptions): Promise<void> {
  const { accounts, recordsPerAccount } = options;
  const start = (options.startTime ?? SAAS_START_TIME).getTime();
  const weightOf = options.accountWeight ?? (() => 1);
  await database.db.transaction().execute(async (trx) => {
    for (let first = 1; first <= accounts; first += INSERT_ROWS) {
      const rows = [];
      for (let i = first; i < first + INSERT_ROWS && i <= accounts; i++) rows.push({ id: i, name: `Account ${i}`, weight: weightOf(i) });
      await trx.insertInto('account').values(rows).execute();
    }
    const records = accounts * recordsPerAccount;
    for (let first = 1; first <= records; first += INSERT_ROWS) {
      const rows = [];
      for (let k = first; k < first + INSERT_ROWS && k <= records; k++) {
        rows.push({
          id: k,
          id_account: ((k - 1) % accounts) + 1,
          create_time: toDbTime(database.dialect, new Date(start + k * 1000)),
          subject: `Delivery ${k}`,
          result_hash: null,
        });
      }
      await trx.insertInto('delivery').values(rows).execute();
    }
  });
}

export interface SaasNodeOptions {
  name: string;
  url: string;
  apiKey: string;
  maxEntities?: number;
  maxWeight?: number;
}

export interface SaasConfigOptions {
  nodes: SaasNodeOptions[];
  assign?: AssignCriterion;
  /** SAAS_SERVICE when left out. */
  service?: string;
  batchSize?: number;
  /** Whether the protocol pulls results; true when left out. */
  pull?: boolean;
}

/** The configuration writeConfigFiles writes, as objects (for suites that skip the files). */
export function saasConfigObjects(options: SaasConfigOptions): { nodes: NodeConfig[]; services: ServiceConfig[] } {
  const service = options.service ?? SAAS_SERVICE;
  const nodes: NodeConfig[] = options.nodes.map((node) => ({
    name: node.name,
    url: node.url,
    apiKey: node.apiKey,
    services: {
      [service]: {
        ...(node.maxEntities !== undefined && { maxEntities: node.maxEntities }),
        ...(node.maxWeight !== undefined && { maxWeight: node.maxWeight }),
      },
    },
  }));
  const protocol: ProtocolConfig = {
    name: SAAS_PROTOCOL,
    table: 'delivery',
    id: 'id',
    sort: 'create_time',
    entityRef: 'id_account',
    batchSize: options.batchSize ?? 500,
    push: { path: SAAS_PATHS.push },
    ...(options.pull !== false && {
      pull: { statusPath: SAAS_PATHS.status, path: SAAS_PATHS.pull, columns: { hash: 'result_hash' } },
    }),
  };
  const services: ServiceConfig[] = [
    {
      name: service,
      entity: { table: 'account', id: 'id', node: nodeColumnOf(service), weight: 'weight' },
      assign: options.assign ?? 'roundrobin',
      protocols: [protocol],
    },
  ];
  return { nodes, services };
}

/** Validates objects like saasConfigObjects returns; throws listing the problems. */
export function toMeshConfig(objects: { nodes: unknown; services: unknown }): MeshConfig {
  const result = validateConfig(objects.nodes, objects.services);
  if (!result.ok) throw new Error(`invalid test configuration: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return result.config;
}

/** `node_for_micro_emails_timeline` for `micro.emails.timeline`. */
export function nodeColumnOf(service: string): string {
  return `node_for_${service.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * Writes `nodes.config.ts` and `services.config.ts` into `dir` (created when
 * missing), as a user would, importing `defineNodes` / `defineServices` from
 * 'workmesh'. Returns their paths.
 */
export function writeConfigFiles(dir: string, options: SaasConfigOptions): { nodesConfig: string; servicesConfig: string } {
  mkdirSync(dir, { recursive: true });
  const { nodes, services } = saasConfigObjects(options);
  const nodesConfig = join(dir, 'nodes.config.ts');
  const servicesConfig = join(dir, 'services.config.ts');
  writeFileSync(nodesConfig, `import { defineNodes } from 'workmesh';\n\nexport default defineNodes(${JSON.stringify(nodes, null, 2)});\n`);
  writeFileSync(
    servicesConfig,
    `import { defineServices } from 'workmesh';\n\nexport default defineServices(${JSON.stringify(services, null, 2)});\n`,
  );
  return { nodesConfig, servicesConfig };
}

/** Node of each account, by id (null: unassigned), as the database holds it now. */
export async function readAssignments(database: Database, service = SAAS_SERVICE): Promise<Record<number, string | null>> {
  const column = nodeColumnOf(service);
  const rows = await database.db.selectFrom('account').select(['id', column]).orderBy('id').execute();
  return Object.fromEntries(rows.map((row) => [Number(row.id), (row[column] as string | null) ?? null]));
}

export type FlagValues = Partial<Record<FlagName, boolean | string | number | Date | null>>;

/**
 * Sets flag columns of some records by hand (default columns `<protocol>_<flag>`),
 * converting booleans and times for the dialect.
 */
export async function setRecordFlags(
  database: Database,
  target: { table: string; protocol: string; idColumn?: string },
  ids: number[],
  values: FlagValues,
): Promise<void> {
  const set: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values) as [FlagName, FlagValues[FlagName]][]) {
    set[defaultFlagColumn(target.protocol, flag)] =
      typeof value === 'boolean' ? toDbBoolean(database.dialect, value) : value instanceof Date ? toDbTime(database.dialect, value) : value;
  }
  await database.db
    .updateTable(target.table)
    .set(set)
    .where(target.idColumn ?? 'id', 'in', ids)
    .execute();
}

export const REPO_ROOT = packageRoot();
export const MESH_BIN = resolve(REPO_ROOT, 'dist/cli/mesh.js');

export interface MeshRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunMeshOptions {
  /** Working directory; the repository root when left out. */
  cwd?: string;
  /** Kills the process and rejects after this long; 60 s when left out. */
  timeoutMs?: number;
}

/**
 * Runs the built `mesh` (`node dist/cli/mesh.js`; run `npm run build` first).
 * NO_COLOR is set; WORKMESH_DB is not inherited unless `env` gives it.
 */
export function runMesh(args: string[], env: Record<string, string> = {}, options: RunMeshOptions = {}): Promise<MeshRun> {
  if (!existsSync(MESH_BIN)) return Promise.reject(new Error(`${MESH_BIN} is missing: run \`npm run build\` first`));
  const inherited = { ...process.env };
  delete inherited.WORKMESH_DB;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MESH_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...inherited, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mesh ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}
