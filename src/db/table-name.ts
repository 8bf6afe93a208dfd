/**
 * A configured table name split into its qualifier (a PostgreSQL schema, a
 * MySQL/MariaDB database, an attached SQLite database) and the table:
 * `app.accounts` → { schema: 'app', table: 'accounts' }. Unqualified names
 * are the connection's own schema (PostgreSQL's current_schema(), MySQL's
 * DATABASE(), SQLite's main). Kysely's `sql.table`, `selectFrom` and the
 * schema builders read the same dotted form as schema-qualified references.
 */
export function splitTableName(name: string): { schema: string | null; table: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: null, table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}
