import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DialectName } from '../../src/db/database-url.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import {
  createSaasSchema,
  runMesh,
  seedSaas,
  writeConfigFiles,
  type MeshRun,
  type SaasConfigOptions,
  type SaasNodeOptions,
  type SeedOptions,
} from './saas-fixture.js';
import { createTestDatabase } from './test-databases.js';

/**
 * A user's project for the CLI suites: a SaaS database of its own (seeded with
 * saas-fixture) and a folder for nodes.config.ts and services.config.ts, in
 * which `mesh` runs.
 */

export const SERVICE = 'micro.emails.timeline';
export const API_KEYS = ['apikey-node1-Zq7xV2', 'apikey-node2-Kp9wR4', 'apikey-node3-Tm3yH8'];
export const NODE = (n: 1 | 2 | 3, caps: Partial<SaasNodeOptions> = {}): SaasNodeOptions => ({
  name: `node${n}`,
  url: `http://127.0.0.1:${3000 + n}`,
  apiKey: API_KEYS[n - 1]!,
  ...caps,
});

/** cli.md's v1 fields first, then the node's health, then the ones one row per (node, service) added. */
export const NODE_KEYS = [
  'name',
  'url',
  'services',
  'entities',
  'weight',
  'pending',
  'failed',
  'processed',
  'health',
  'failingSince',
  'lastError',
  'nextTryAt',
  'service',
  'maxEntities',
  'maxWeight',
];
export const SERVICE_KEYS = ['service', 'nodes', 'entities', 'unassigned', 'pending', 'failed', 'processed'];

export interface Project {
  /** The user's project folder, holding nodes.config.ts and services.config.ts. */
  dir: string;
  url: string;
  /** The same database, opened by the test to seed and inspect it. */
  database: Database;
  /** Runs `mesh ARGS --db URL` in the project folder, checking that no API key shows in its output. */
  mesh(args: string[], options?: { env?: Record<string, string>; db?: boolean }): Promise<MeshRun>;
  configure(options: SaasConfigOptions): { nodesConfig: string; servicesConfig: string };
}

/** A user's SaaS database with account and delivery rows, and a project folder for the config files. */
export async function newProject(dialect: DialectName, seed: SeedOptions, cleanups: (() => Promise<void>)[]): Promise<Project> {
  const test = await createTestDatabase(dialect);
  cleanups.push(() => test.drop());
  const database = await openDatabase(test.url);
  cleanups.push(() => database.close());
  await createSaasSchema(database);
  await seedSaas(database, seed);
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-cli-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    url: test.url,
    database,
    async mesh(args, options = {}) {
      const run = await runMesh(options.db === false ? args : [...args, '--db', test.url], options.env ?? {}, { cwd: dir });
      for (const key of API_KEYS) {
        expect(run.stdout).not.toContain(key);
        expect(run.stderr).not.toContain(key);
      }
      return run;
    },
    configure: (options) => writeConfigFiles(dir, options),
  };
}

export async function tableNames(database: Database): Promise<string[]> {
  return (await database.db.introspection.getTables()).map((t) => t.name).sort();
}

/** Asserts a run succeeded without a word on stderr (shown in full when it did not); returns it. */
export function ok(run: MeshRun): MeshRun {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return run;
}

/** The JSON document on stdout of a run that ended with `code` (stderr shown when it did not). */
export function jsonOf<T = unknown>(run: MeshRun, code = 0): T {
  expect(run.code, `exit status; stderr: ${run.stderr}`).toBe(code);
  return JSON.parse(run.stdout) as T;
}

/** Table output as words per line. */
export function words(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/\s+/));
}

/**
 * Every row of every table, each table's rows sorted, as text: two snapshots
 * are equal when nothing was written in between (a dry run, a refused command).
 */
export async function snapshot(database: Database): Promise<Record<string, string[]>> {
  const tables = await tableNames(database);
  const all: Record<string, string[]> = {};
  for (const table of tables) {
    const rows = await database.db.selectFrom(table).selectAll().execute();
    all[table] = rows
      .map((row) => JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)))
      .sort();
  }
  return all;
}
