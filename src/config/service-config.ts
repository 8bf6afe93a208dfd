import type { Kysely } from 'kysely';
import type { NodeConfig } from './node-config.js';

/** A row as the database driver returns it. */
export type Row = Record<string, unknown>;

/**
 * The database handle given to user functions. Table names come from the
 * configuration, so the schema is not known at compile time.
 */
export type AnyDatabase = Record<string, Row>;
export type Db = Kysely<AnyDatabase>;

export interface EntityConfig {
  /** The table whose rows are assigned to nodes. */
  table: string;
  /** Its primary key column. */
  id: string;
  /** Column holding the assigned node's name (NULL: unassigned). */
  node: string;
  /** For `entityweight`: a numeric column, or a function of the entity row. */
  weight?: string | ((row: Row) => number);
}

export type AssignCriterion = 'roundrobin' | 'entitynumber' | 'entityweight';

export interface PushContext {
  service: string;
  protocol: string;
  db: Db;
}

export interface PullContext {
  service: string;
  protocol: string;
  /** The transaction the pull flags are written in. */
  db: Db;
}

/**
 * Sends one batch to a node; resolves on success, throws on failure. A
 * thrown error is the node's failure (the records stay pending, no attempt
 * counted, the node backs off) unless it carries `failure: 'records'`: then
 * the batch is halved down to the record at fault, which alone counts an
 * attempt (node contract v1.1).
 */
export type PushFunction = (records: Row[], node: NodeConfig, ctx: PushContext) => Promise<void>;

/** One entry of a pull answer, as the node sent it. */
export interface PullResult {
  id: unknown;
  error?: string;
  [field: string]: unknown;
}

/** Stores the successful results of one batch yourself, inside the pull transaction. */
export type PullStoreFunction = (records: Row[], results: PullResult[], ctx: PullContext) => Promise<void>;

export type PushConfig = { path: string; fn?: never } | { fn: PushFunction; path?: never };

interface PullBase {
  statusPath: string;
  path: string;
  /**
   * Records delivered longer ago than this (milliseconds) are asked for on
   * every pull whatever the node's status bound says, so that a result
   * the bound misses (a lost acknowledgement, a late commit, a re-push) is
   * still pulled; ids the node has not processed are left out of its
   * answer and cost nothing. 300000 (five minutes) when left out.
   */
  sweepAfterMs?: number;
}

export type PullConfig =
  (PullBase & { columns?: Record<string, string>; fn?: never }) | (PullBase & { fn: PullStoreFunction; columns?: never });

export interface FlagColumns {
  pushTime: string;
  pushSuccess: string;
  pushError: string;
  pushAttempts: string;
  /** The node a record was delivered to, so that its result is pulled from there even after its entity moved. */
  pushNode: string;
  pullTime: string;
  pullSuccess: string;
  pullError: string;
}

export type FlagName = keyof FlagColumns;

export interface ProtocolConfig {
  /** Unique within the service. */
  name: string;
  /** The records pushed to the node. */
  table: string;
  id: string;
  /** Push, process and pull order is `(sort, id)` ascending. */
  sort: string;
  /** Column of `table` holding the entity's id; left out when `table` is the entity table itself. */
  entityRef?: string;
  batchSize?: number;
  push: PushConfig;
  pull?: PullConfig;
  /** Each defaults to `<protocol>_<flag>` in snake case, e.g. `deliveries_push_time`. */
  flags?: Partial<FlagColumns>;
  /** After this many failed pushes a record is dead; 10 when left out. */
  maxAttempts?: number;
  /** For a time `sort`: push only records older than this many milliseconds. */
  settleMs?: number;
}

/** Automatic failover (opt-in): see `failover` in ServiceConfig. */
export interface FailoverConfig {
  /** How long a node must have been unavailable (failing by its own fault) before its entities are moved. */
  afterMs: number;
}

export interface ServiceConfig {
  name: string;
  entity: EntityConfig;
  assign?: AssignCriterion;
  protocols: ProtocolConfig[];
  /**
   * At the start of each push, the entities of a node unavailable for longer
   * than `afterMs` move to healthy nodes by `assign`, within capacity, with
   * re-push. Off when left out.
   */
  failover?: FailoverConfig;
}
