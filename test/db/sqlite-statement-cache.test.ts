import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/db/sqlite-statement-cache.js';

describe('withStatementCache (better-sqlite3 behind Kysely)', () => {
  let dir: string;
  let raw: BetterSqlite3.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'workmesh-stmt-'));
    raw = new BetterSqlite3(join(dir, 'cache.db'));
    raw.exec('create table t (id integer primary key, v text)');
  });
  afterEach(() => {
    if (raw.open) raw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares a statement once per SQL text and keeps answering with the current rows', async () => {
    let prepared = 0;
    const counting = Object.assign(Object.create(raw) as BetterSqlite3.Database, {
      prepare: (text: string) => {
        prepared++;
        return raw.prepare(text);
      },
    });
    const db = new Kysely<Record<string, Record<string, unknown>>>({
      dialect: new SqliteDialect({ database: withStatementCache(counting) }),
    });
    for (let i = 1; i <= 5; i++) await sql`insert into t (id, v) values (${i}, ${`v${i}`})`.execute(db);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { rows } = await sql<{ n: number }>`select count(*) as n from t where id > ${i}`.execute(db);
      counts.push(rows[0]!.n);
    }
    expect(counts).toEqual([5, 4, 3]);
    // One insert text and one select text.
    expect(prepared).toBe(2);
    await db.destroy();
    expect(raw.open).toBe(false);
  });

  it('drops the least recently used statement past its capacity', () => {
    let prepared = 0;
    const counting = Object.assign(Object.create(raw) as BetterSqlite3.Database, {
      prepare: (text: string) => {
        prepared++;
        return raw.prepare(text);
      },
    });
    const cache = withStatementCache(counting, 2);
    cache.prepare('select 1');
    cache.prepare('select 2');
    cache.prepare('select 1'); // now the most recent: `select 2` goes first
    cache.prepare('select 3');
    expect(prepared).toBe(3);
    cache.prepare('select 1');
    expect(prepared).toBe(3);
    cache.prepare('select 2');
    expect(prepared).toBe(4);
  });

  it('sees columns added after a statement was prepared', async () => {
    const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
    await sql`insert into t (id, v) values (1, 'a')`.execute(db);
    const before = await sql<Record<string, unknown>>`select * from t`.execute(db);
    expect(Object.keys(before.rows[0]!)).toEqual(['id', 'v']);
    await sql`alter table t add column extra integer default 7`.execute(db);
    const after = await sql<Record<string, unknown>>`select * from t`.execute(db);
    expect(after.rows[0]).toEqual({ id: 1, v: 'a', extra: 7 });
    await db.destroy();
  });
});
