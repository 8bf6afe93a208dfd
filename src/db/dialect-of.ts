import { MysqlAdapter, PostgresAdapter, SqliteAdapter } from 'kysely';
import type { Db } from '../config/service-config.js';
import type { DialectName } from './database-url.js';

/** The dialect a Kysely instance (or transaction) speaks, from its adapter: for writes deep in a move that are given only the transaction. */
export function dialectOf(db: Db): DialectName {
  const adapter = db.getExecutor().adapter;
  if (adapter instanceof SqliteAdapter) return 'sqlite';
  if (adapter instanceof MysqlAdapter) return 'mysql';
  if (adapter instanceof PostgresAdapter) return 'postgres';
  throw new Error(`unsupported database adapter ${adapter.constructor.name}`);
}
