import { randomUUID } from 'node:crypto';
import type { Db } from '../config/service-config.js';
import { readState, writeState } from './state-store.js';

const movesKey = (service: string) => `moves:${service}`;

/**
 * Marks that a service's entities changed node (assign, reassign, drain,
 * rebalance, failover, rename-node): a new random token in workmesh_state,
 * written in the move's own transaction. A push pass compares it before and
 * after each read (readMovesToken): a pass that started before the move
 * must not go on dealing records by the new mapping, or it would send a
 * moved entity's newer records to its new node while older ones it had
 * passed by (then on the old node) are still pending, against the per-entity
 * order of node contract v1.1. A token, not a counter: two moves that commit
 * at once still change it.
 */
export async function markEntitiesMoved(db: Db, service: string): Promise<void> {
  await writeState(db, movesKey(service), randomUUID());
}

/** The service's current moves token; null before its first move. */
export function readMovesToken(db: Db, service: string): Promise<string | null> {
  return readState(db, movesKey(service));
}
