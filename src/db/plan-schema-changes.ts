import { createHash } from 'node:crypto';
import type { MeshConfig, ResolvedProtocol } from '../config/mesh-config.js';
import type { FlagName } from '../config/service-config.js';
import type { DialectName } from './database-url.js';
import type { ColumnSchema, TableSchema } from './read-schema.js';

export type ColumnKind = 'time' | 'boolean' | 'text' | 'counter' | 'node';

export type SchemaChange =
  | { kind: 'add-column'; table: string; column: string; columnKind: ColumnKind }
  | { kind: 'create-index'; table: string; name: string; columns: string[] };

export interface SchemaPlan {
  changes: SchemaChange[];
  /**
   * Things migrate cannot fix: a configured table or column that does not
   * exist (pull.columns targets included), a flag or node column of a type
   * that cannot hold what it must, or NOT NULL where NULL means pending.
   */
  problems: string[];
  /** Things that work but may surprise: a nullable sort column, a result column that may be too short (`mesh migrate` prints them). */
  warnings: string[];
}

/**
 * A result column shorter than this many characters is a warning: results
 * are not known in advance, and 64 holds a SHA-256 in hex, the shortest
 * common result the demo and the examples store.
 */
export const SHORT_RESULT_COLUMN = 64;

/** Type families a flag or node column may have (what migrate creates, and what a user's own column may reasonably be). */
const KIND_TYPES: Record<Exclude<DialectName, 'sqlite'>, Record<ColumnKind, RegExp>> = {
  mysql: {
    time: /^(datetime|timestamp)$/,
    boolean: /^(tinyint|boolean|bool|bit|smallint|int|integer)$/,
    text: /^(varchar|char|text|tinytext|mediumtext|longtext)$/,
    counter: /^(tinyint|smallint|mediumint|int|integer|bigint)$/,
    node: /^(varchar|char|text|tinytext|mediumtext|longtext)$/,
  },
  postgres: {
    time: /^(timestamptz|timestamp)$/,
    boolean: /^bool$/,
    text: /^(varchar|bpchar|text)$/,
    counter: /^(int2|int4|int8)$/,
    node: /^(varchar|bpchar|text)$/,
  },
};

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
  const warnings: string[] = [];
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
  const columnOf = (table: TableSchema, column: string) => [...table.columnTypes.values()].find((c) => same(c.name, column));
  const addColumn = (table: TableSchema, tableName: string, column: string, columnKind: ColumnKind, who: string) => {
    const key = `${tableName}.${column}`.toLowerCase();
    const existing = columnOf(table, column);
    if (existing) {
      checkKind(existing, tableName, columnKind, who);
      return;
    }
    if (plannedColumns.has(key)) return;
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

  // A column of the user's (or an earlier migrate's) must hold what mesh writes there; NULL means pending.
  const checkKind = (column: ColumnSchema, tableName: string, kind: ColumnKind, who: string) => {
    const where = `${who}: column "${tableName}.${column.name}"`;
    if (dialect !== 'sqlite' && !KIND_TYPES[dialect][kind].test(column.type)) {
      problems.push(`${where} is of type ${column.type}, which cannot hold a ${KIND_WORDS[kind]}`);
    }
    if (kind !== 'counter' && !column.nullable) problems.push(`${where} is NOT NULL; mesh needs NULL there (not set yet, pending)`);
  };

  for (const service of config.services) {
    const who = `service "${service.name}"`;
    const entityTable = tableOf(service.entity.table, who);
    if (entityTable) {
      requireColumn(entityTable, service.entity.table, service.entity.id, who);
      if (typeof service.entity.weight === 'string') requireColumn(entityTable, service.entity.table, service.entity.weight, who);
      addColumn(entityTable, service.entity.table, service.entity.node, 'node', who);
      addIndex(entityTable, service.entity.table, [service.entity.node], service.entity.node);
    }
    for (const protocol of service.protocols) {
      const pwho = `${who} protocol "${protocol.name}"`;
      const table = tableOf(protocol.table, pwho);
      if (!table) continue;
      for (const column of [protocol.id, protocol.sort, ...(protocol.entityRef ? [protocol.entityRef] : [])]) {
        requireColumn(table, protocol.table, column, pwho);
      }
      const sort = columnOf(table, protocol.sort);
      if (sort?.nullable) {
        warnings.push(
          `${pwho}: sort column "${protocol.table}.${protocol.sort}" is nullable; records with a NULL sort are pushed and pulled first, as the oldest, in id order`,
        );
      }
      for (const [field, column] of Object.entries(protocol.pull?.columns ?? {})) {
        const target = columnOf(table, column);
        const where = `${pwho}: pull.columns.${field}: column "${protocol.table}.${column}"`;
        if (!target) problems.push(`${where} does not exist`);
        else if (target.maxLength !== null && target.maxLength < SHORT_RESULT_COLUMN) {
          warnings.push(
            `${where} holds at most ${target.maxLength} characters (${target.type}(${target.maxLength})); a longer result fails its batch`,
          );
        }
      }
      for (const flag of flagsOf(protocol)) addColumn(table, protocol.table, protocol.flags[flag], FLAG_KINDS[flag], pwho);
      const { flags } = protocol;
      addIndex(table, protocol.table, [flags.pushSuccess, protocol.sort, protocol.id], `${protocol.name}_push`);
      if (protocol.pull) {
        addIndex(table, protocol.table, [flags.pullSuccess, flags.pushSuccess, protocol.sort, protocol.id], `${protocol.name}_pull`);
      }
      if (protocol.entityRef) addIndex(table, protocol.table, [protocol.entityRef], protocol.entityRef);
    }
  }
  return { changes, problems, warnings };
}

const KIND_WORDS: Record<ColumnKind, string> = {
  time: 'time',
  boolean: 'true/false flag',
  text: 'text',
  counter: 'count',
  node: 'node name',
};

function flagsOf(protocol: ResolvedProtocol): FlagName[] {
  const push: FlagName[] = ['pushTime', 'pushSuccess', 'pushError', 'pushAttempts', 'pushNode'];
  return protocol.pull ? [...push, 'pullTime', 'pullSuccess', 'pullError'] : push;
}

/**
 * `wm_<table>_<purpose>`, cut to 60 characters with a hash so it stays unique (PostgreSQL allows 63, MySQL 64).
 * A schema-qualified table's dot becomes `_`: the index lives in its table's schema.
 */
export function indexName(table: string, purpose: string, columns: string[]): string {
  const name = `wm_${table.replace('.', '_')}_${purpose}`;
  if (name.length <= 60) return name;
  const hash = createHash('sha256')
    .update(`${table}(${columns.join(',')})`)
    .digest('hex')
    .slice(0, 8);
  return `${name.slice(0, 51)}_${hash}`;
}
