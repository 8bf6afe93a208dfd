import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DialectName } from '../../src/db/database-url.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';

/**
 * Server URLs for the database suites. SQLite always runs; MariaDB/MySQL and
 * PostgreSQL run when their variable is set (CI sets both and fails on a skip).
 */
export const TEST_SERVER_URLS: Record<Exclude<DialectName, 'sqlite'>, string | undefined> = {
  mysql: process.env.WORKMESH_TEST_MYSQL_URL,
  postgres: process.env.WORKMESH_TEST_POSTGRES_URL,
};

if (process.env.WORKMESH_REQUIRE_SERVER_SUITES) {
  const missing = Object.entries(TEST_SERVER_URLS).filter(([, url]) => url === undefined);
  if (missing.length > 0) {
    throw new Error(
      `WORKMESH_REQUIRE_SERVER_SUITES is set but ${missing.map(([d]) => `WORKMESH_TEST_${d.toUpperCase()}_URL`).join(' and ')} is not`,
    );
  }
}

/** Every dialect, with whether its server is configured; use with describe.skipIf. */
export const DIALECTS: { name: DialectName; available: boolean }[] = [
  { name: 'sqlite', available: true },
  { name: 'mysql', available: TEST_SERVER_URLS.mysql !== undefined },
  { name: 'postgres', available: TEST_SERVER_URLS.postgres !== undefined },
];

export interface TestDatabase {
  /** URL of a database of its own, for `mesh --db` or openDatabase. */
  url: string;
  dialect: DialectName;
  /** Drops the database (or deletes the file). */
  drop(): Promise<void>;
}

/** A fresh, empty database with a random name, so tests never share state. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const name = `wm_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-test-'));
    return {
      url: `sqlite:${join(dir, `${name}.db`)}`,
      dialect,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = TEST_SERVER_URLS[dialect];
  if (base === undefined) throw new Error(`set WORKMESH_TEST_${dialect.toUpperCase()}_URL to run the ${dialect} suite`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  if (dialect === 'mysql') {
    await withMysql(base, (c) => c.query(`CREATE DATABASE \`${name}\``));
    return { url: url.href, dialect, drop: () => withMysql(base, (c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``)) };
  }
  await withPostgres(base, (c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    url: url.href,
    dialect,
    drop: () => withPostgres(base, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** Opens a fresh test database; `cleanup` closes and drops it. */
export async function openTestDatabase(dialect: DialectName): Promise<{ database: Database; url: string; cleanup(): Promise<void> }> {
  const test = await createTestDatabase(dialect);
  const database = await openDatabase(test.url);
  return {
    database,
    url: test.url,
    cleanup: async () => {
      await database.close();
      await test.drop();
    },
  };
}

async function withMysql(url: string, work: (c: mysql.Connection) => Promise<unknown>): Promise<void> {
  const connection = await mysql.createConnection(url);
  try {
    await work(connection);
  } finally {
    await connection.end();
  }
}

async function withPostgres(url: string, work: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
