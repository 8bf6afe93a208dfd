import { Kysely, MysqlDialect, PostgresDialect, sql, type Dialect } from 'kysely';
import type { Db } from '../config/service-config.js';
import { exactTime } from './exact-time.js';
import { withExactTimes } from './mysql-exact-times.js';
import { withExactIntegers } from './sqlite-exact-integers.js';
import { SqliteImmediateDialect } from './sqlite-immediate-dialect.js';
import { withStatementCache } from './sqlite-statement-cache.js';
import { connectionFailure, parseDatabaseUrl, type DatabaseTarget, type DialectName } from './database-url.js';
import { refuseMissingSqliteFile } from './sqlite-file-exists.js';

/** An open connection pool to the SaaS database, with the dialect it speaks. */
export interface Database {
  db: Db;
  dialect: DialectName;
  close(): Promise<void>;
}

/**
 * Opens `mysql://`, `postgres://` or `sqlite:` URLs through Kysely, and
 * connects once: a URL the database refuses is a DatabaseConnectionError.
 *
 * @example
 * const database = await openDatabase('sqlite:./saas.db');
 * try { ... } finally { await database.close(); }
 */
export async function openDatabase(url: string | undefined, options: { mustExist?: boolean } = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  // A SQLite file that must already be there (every command but migrate and demo) is not created by a typo.
  if (options.mustExist) refuseMissingSqliteFile(target);
  let dialect: Dialect;
  try {
    dialect = await createDialect(target);
  } catch (error) {
    throw connectionFailure(target, error);
  }
  const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect });
  // The pools connect lazily: without this, an unknown database or a wrong password would surface at the
  // first real query, as the driver's bare error, midway through a command.
  if (target.dialect !== 'sqlite') {
    try {
      await sql`select 1`.execute(db);
    } catch (error) {
      await db.destroy().catch(() => undefined);
      throw connectionFailure(target, error);
    }
  }
  return {
    db,
    dialect: target.dialect,
    close: () => db.destroy(),
  };
}

let exactTimeParsers = false;

/** Each driver is loaded only when its dialect is used: a cron run pays for one. */
async function createDialect(target: DatabaseTarget): Promise<Dialect> {
  switch (target.dialect) {
    case 'sqlite': {
      const { default: BetterSqlite3 } = await import('better-sqlite3');
      const database = new BetterSqlite3(target.file);
      database.pragma('journal_mode = WAL');
      database.pragma('busy_timeout = 10000');
      return new SqliteImmediateDialect({ database: withExactIntegers(withStatementCache(database)) });
    }
    case 'mysql': {
      const { createPool } = await import('mysql2');
      return new MysqlDialect({
        // Dates come back as Date objects in UTC, exact to the microsecond (mysql-exact-times.ts: read as
        // text, then parsed); 64-bit integers as strings when they do not fit a number.
        pool: withExactTimes(
          createPool({
            uri: target.url.href,
            connectionLimit: 8,
            timezone: 'Z',
            supportBigNumbers: true,
            bigNumberStrings: false,
            dateStrings: ['DATETIME', 'TIMESTAMP'],
          }),
        ),
      });
    }
    case 'postgres': {
      const { default: pg } = await import('pg');
      // 64-bit integers (count(*), bigint ids) come back as strings; the node
      // contract wants numbers where they fit and strings only where they do not.
      pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
        const number = Number(value);
        return Number.isSafeInteger(number) ? number : value;
      });
      // timestamp and timestamptz keep their microseconds (exact-time.ts); pg's own Dates stop at the millisecond.
      // The parsers are global to the process: wrapped once, not once per database opened.
      if (!exactTimeParsers) {
        exactTimeParsers = true;
        for (const type of [pg.types.builtins.TIMESTAMPTZ, pg.types.builtins.TIMESTAMP]) {
          const parse = pg.types.getTypeParser(type, 'text');
          pg.types.setTypeParser(type, (value: string) => exactTime(parse(value), value));
        }
      }
      const pool = new pg.Pool({ connectionString: target.url.href, max: 8 });
      // An idle connection the server ends (a restart, an administrator, an
      // idle timeout) is dropped by the pool, which then emits the error; with
      // no listener that would end the process. The next query opens a new
      // connection, or fails with the cause.
      pool.on('error', () => undefined);
      return new PostgresDialect({ pool });
    }
  }
}
