import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryCompiler, type TransactionSettings } from 'kysely';

/**
 * Kysely's SQLite dialect with write transactions that start with
 * `BEGIN IMMEDIATE` instead of a deferred `BEGIN`. A deferred transaction
 * that reads and then writes (a move reads the entities, then updates them;
 * a migration reads the schema, then alters it) asks for the write lock
 * only at its first write; if another process (a running push, the
 * application inserting records) has written since the read, SQLite fails
 * it at once with "database is locked", and busy_timeout cannot help, since
 * retrying would not make the read current. `BEGIN IMMEDIATE` takes the
 * write lock first, waiting under busy_timeout, so the transaction waits
 * for the running write instead of failing. Readers go on meanwhile (WAL).
 *
 * @example
 * new Kysely({ dialect: new SqliteImmediateDialect({ database: new Database(file) }) });
 */
export class SqliteImmediateDialect extends SqliteDialect {
  override createDriver(): Driver {
    return new ImmediateTransactionDriver(super.createDriver());
  }
}

/** Every call goes to Kysely's SQLite driver, except how a transaction begins. */
class ImmediateTransactionDriver implements Driver {
  readonly #driver: Driver;

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  init(): Promise<void> {
    return this.#driver.init();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.#driver.acquireConnection();
  }

  async beginTransaction(connection: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#driver.rollbackTransaction(connection);
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#driver.savepoint!(connection, name, compileQuery);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#driver.rollbackToSavepoint!(connection, name, compileQuery);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#driver.releaseSavepoint!(connection, name, compileQuery);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#driver.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.#driver.destroy();
  }
}
