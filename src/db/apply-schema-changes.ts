import { sql, type ColumnDataType, type ColumnDefinitionBuilder, type CompiledQuery, type Expression, type Kysely } from 'kysely';

/** Kysely's DataTypeExpression, which it does not export. */
type DataTypeExpression = ColumnDataType | Expression<unknown>;
import type { DialectName } from './database-url.js';
import type { ColumnKind, SchemaChange } from './plan-schema-changes.js';

const COLUMN_TYPES: Record<DialectName, Record<ColumnKind, DataTypeExpression>> = {
  mysql: { time: sql`datetime(3)`, boolean: 'boolean', text: 'text', counter: 'integer', node: 'varchar(191)' },
  postgres: { time: 'timestamptz', boolean: 'boolean', text: 'text', counter: 'integer', node: 'varchar(191)' },
  // SQLite stores flag times as ISO 8601 text and booleans as 0/1.
  sqlite: { time: 'text', boolean: 'integer', text: 'text', counter: 'integer', node: 'varchar(191)' },
};

/**
 * The statements that make the changes. MySQL and PostgreSQL add all of a
 * table's columns in one ALTER TABLE (one table rebuild, not one per column);
 * SQLite takes one column per statement.
 */
export function compileSchemaChanges(db: Kysely<unknown>, dialect: DialectName, changes: SchemaChange[]): CompiledQuery[] {
  const compiled: CompiledQuery[] = [];
  const columnsByTable = new Map<string, Extract<SchemaChange, { kind: 'add-column' }>[]>();
  for (const change of changes) {
    if (change.kind !== 'add-column') continue;
    columnsByTable.set(change.table, [...(columnsByTable.get(change.table) ?? []), change]);
  }
  for (const [table, columns] of columnsByTable) {
    const groups = dialect === 'sqlite' ? columns.map((c) => [c]) : [columns];
    for (const group of groups) {
      let builder = db.schema.alterTable(table) as unknown as AddColumnChain;
      for (const column of group) {
        const type = COLUMN_TYPES[dialect][column.columnKind];
        builder =
          column.columnKind === 'counter'
            ? builder.addColumn(column.column, type, (col) => col.notNull().defaultTo(0))
            : builder.addColumn(column.column, type);
      }
      compiled.push(builder.compile());
    }
  }
  for (const change of changes) {
    if (change.kind !== 'create-index') continue;
    compiled.push(db.schema.createIndex(change.name).on(change.table).columns(change.columns).compile());
  }
  return compiled;
}

/** The part of Kysely's alter-table builders that chaining several addColumn calls uses. */
interface AddColumnChain {
  addColumn(name: string, type: DataTypeExpression, build?: (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder): AddColumnChain;
  compile(): CompiledQuery;
}
