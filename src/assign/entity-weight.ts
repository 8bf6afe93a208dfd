import type { EntityConfig, Row } from '../config/service-config.js';

/** An entity's weight: its weight column, or the configured function of its row; missing counts as 0. */
export function entityWeight(entity: EntityConfig, row: Row): number {
  if (entity.weight === undefined) return 0;
  const value = typeof entity.weight === 'function' ? entity.weight(row) : row[entity.weight];
  const weight = Number(value ?? 0);
  if (!Number.isFinite(weight))
    throw new Error(`entity ${String(row[entity.id])} of table ${entity.table} has a weight that is not a number`);
  return weight;
}

/** Columns to read for the weight: all of them for a function, which may use any. */
export function weightSelection(entity: EntityConfig): '*' | string[] {
  if (typeof entity.weight === 'function') return '*';
  return entity.weight === undefined ? [entity.id, entity.node] : [entity.id, entity.node, entity.weight];
}
