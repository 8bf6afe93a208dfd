import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type Dialect,
} from 'kysely';
import type { DialectName } from './database-url.js';

/**
 * A Kysely that compiles for the dialect but runs nothing: every query it is
 * given is recorded instead. It lets `mesh migrate --dry-run` print the very
 * SQL the Kysely migrations would run.
 */
export function recordingKysely(dialect: DialectName, recorded: CompiledQuery[]): Kysely<unknown> {
  return new Kysely<unknown>({
    dialect: recordingDialect(dialect),
    log: (event) => {
      if (event.level === 'query') recorded.push(event.query);
    },
  });
}

function recordingDialect(dialect: DialectName): Dialect {
  const driver = () => new DummyDriver();
  switch (dialect) {
    case 'sqlite':
      return {
        createAdapter: () => new SqliteAdapter(),
        createDriver: driver,
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: () => new SqliteQueryCompiler(),
      };
    case 'mysql':
      return {
        createAdapter: () => new MysqlAdapter(),
        createDriver: driver,
        createIntrospector: (db) => new MysqlIntrospector(db),
        createQueryCompiler: () => new MysqlQueryCompiler(),
      };
    case 'postgres':
      return {
        createAdapter: () => new PostgresAdapter(),
        createDriver: driver,
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      };
  }
}
