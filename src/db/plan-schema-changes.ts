import { createHash } from 'node:crypto';
import type { MeshConfig, ResolvedProtocol } from '../config/mesh-config.js';
import type { FlagName } from '../config/service-config.js';
import type { DialectName } from './database-url.js';
import type { TableSchema } from './read-schema.js';

export type ColumnKind = 'time' | 'boolean' | 'text' | 'counter' | 'node';

export type SchemaChange =
  | { kind: 'add-column'; table: string; column: string; columnKind: ColumnKind }
  | { kind: 'create-index'; table: string; name: string; columns: string[] };

export interface SchemaPlan {
  changes: SchemaChange[];
  /** Things migrate cannot fix: a configured table or column that does not exist. */
  problems: string[];
}

const FLAG_KINDS: Record<FlagName, ColumnKind> = {
  pushTime: 'time',
  pushSuccess: 'boolean',
  pushError: 'text',
  pushAttempts: 'counter',
  pushNode: 'node',
  pullTime: 'time',
  pullSuccess: 'boolean',
  pullError: 'text',
};

/**
 * What `mesh migrate` must add to the configured tables: the entity's node
 * column, every protocol's flag columns, and the indexes the assignment,
 * push and pull queries read through. Pure: schema in, changes out.
 */
export function planSchemaChanges(config: MeshConfig, dialect: DialectName, schema: Map<string, TableSchema>): SchemaPlan {
  const changes: SchemaChange[] = [];
  const problems: string[] = [];
  // Columns and indexes planned so far, so that two services sharing a table ask once.
  const plannedColumns = new Set<string>();
  const plannedIndexes: { table: string; columns: string[] }[] = [];
  const same = (a: string, b: string) => (dialect === 'postgres' ? a === b : a.toLowerCase() === b.toLowerCase());

  const tableOf = (table: string, who: string): TableSchema | undefined => {
    const found = [...schema.entries()].find(([name]) => same(name, table))?.[1];
    if (!found) problems.push(`${who}: table "${table}" does not exist`);
    return found;
  };
  const hasColumn = (table: TableSchema, column: string) => [...table.columns].some((c) => same(c, column));
  const requireColumn = (table: TableSchema, tableName: string, column: string, who: string) => {
    if (!hasColumn(table, column)) problems.push(`${who}: column "${tableName}.${column}" does not exist`);
  };
  const addColumn = (table: TableSchema, tableName: string, column: string, columnKind: ColumnKind) => {
    const key = `${tableName}.${column}`.toLowerCase();
    if (hasColumn(table, column) || plannedColumns.has(key)) return;
    plannedColumns.add(key);
    changes.push({ kind: 'add-column', table: tableName, column, columnKind });
  };
  const addIndex = (table: TableSchema, tableName: string, wanted: string[], purpose: string) => {
    // A column named twice (a sort that is the id) is indexed once: MySQL refuses duplicate index columns.
    const columns = wanted.filter((column, i) => wanted.findIndex((other) => same(other, column)) === i);
    const covers = (existing: string[]) => columns.every((c, i) => existing[i] !== undefined && same(existing[i], c));
    if (table.indexes.some(covers)) return;
    if (plannedIndexes.some((p) => same(p.table, tableName) && covers(p.columns))) return;
    plannedIndexes.push({ table: tableName, columns });
    changes.push({ kind: 'create-index', table: tableName, name: indexName(tableName, purpose, columns), columns });
  };

  for (const service of config.services) {
    const who = `service "${service.name}"`;
    const entityTable = tableOf(service.entity.table, who);
    if (entityTable) {
      requireColumn(entityTable, service.entity.table, service.entity.id, who);
      if (typeof service.entity.weight === 'string') requireColumn(entityTable, service.entity.table, service.entity.weight, who);
      addColumn(entityTable, service.entity.table, service.entity.node, 'node');
      addIndex(entityTable, service.entity.table, [service.entity.node], service.entity.node);
    }
    for (const protocol of service.protocols) {
      const pwho = `${who} protocol "${protocol.name}"`;
      const table = tableOf(protocol.table, pwho);
      if (!table) continue;
      for (const column of [protocol.id, protocol.sort, ...(protocol.entityRef ? [protocol.entityRef] : [])]) {
        requireColumn(table, protocol.table, column, pwho);
      }
      for (const flag of flagsOf(protocol)) addColumn(table, protocol.table, protocol.flags[flag], FLAG_KINDS[flag]);
      const { flags } = protocol;
      addIndex(table, protocol.table, [flags.pushSuccess, protocol.sort, protocol.id], `${protocol.name}_push`);
      if (protocol.pull) {
        addIndex(table, protocol.table, [flags.pullSuccess, flags.pushSuccess, protocol.sort, protocol.id], `${protocol.name}_pull`);
      }
      if (protocol.entityRef) addIndex(table, protocol.table, [protocol.entityRef], protocol.entityRef);
    }
  }
  return { changes, problems };
}

function flagsOf(protocol: ResolvedProtocol): FlagName[] {
  const push: FlagName[] = ['pushTime', 'pushSuccess', 'pushError', 'pushAttempts', 'pushNode'];
  return protocol.pull ? [...push, 'pullTime', 'pullSuccess', 'pullError'] : push;
}

/** `wm_<table>_<purpose>`, cut to 60 characters with a hash so it stays unique (PostgreSQL allows 63, MySQL 64). */
export function indexName(table: string, purpose: string, columns: string[]): string {
  const name = `wm_${table}_${purpose}`;
  if (name.length <= 60) return name;
  const hash = createHash('sha256').update(`${table}(${columns.join(',')})`).digest('hex').slice(0, 8);
  return `${name.slice(0, 51)}_${hash}`;
}
