import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DialectName } from '../src/db/database-url.js';

/** A database of the bench's own, created empty and dropped at the end. */
export interface BenchDatabase {
  /** URL for `mesh --db` and openDatabase. */
  url: string;
  dialect: DialectName;
  drop(): Promise<void>;
}

/**
 * Creates an empty database named `wm_bench_<random>`: a file in a temp
 * folder for SQLite (or the file `sqlite:<path>` names, which must not exist),
 * a new database on the server the URL points at otherwise.
 */
export async function createBenchDatabase(server: string, dialect: DialectName): Promise<BenchDatabase> {
  const name = `wm_bench_${randomBytes(4).toString('hex')}`;
  if (dialect === 'sqlite') {
    if (server.startsWith('sqlite:')) {
      const file = server.slice('sqlite:'.length);
      if (existsSync(file)) throw new Error(`${file} exists; the bench builds its database from scratch`);
      return { url: server, dialect, drop: async () => removeSqlite(file) };
    }
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-bench-'));
    return { url: `sqlite:${join(dir, `${name}.db`)}`, dialect, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  if (dialect === 'mysql') {
    await withMysql(server, (c) => c.query(`CREATE DATABASE \`${name}\``));
    return { url: url.href, dialect, drop: () => withMysql(server, (c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``)) };
  }
  await withPostgres(server, (c) => c.query(`CREATE DATABASE "${name}"`));
  return { url: url.href, dialect, drop: () => withPostgres(server, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)) };
}

function removeSqlite(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
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
