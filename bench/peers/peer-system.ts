import type { PeerDatabase } from './peer-database.js';

/** What every system is given for one run of the job. */
export interface PeerContext {
  db: PeerDatabase;
  /** The server URL the bench database was created on (for connections to another database). */
  serverUrl: string;
  redisUrl: string;
  records: number;
  entities: number;
  /** Worker processes (kit nodes for workmesh). */
  workers: number;
  /** Folder for node data files and configuration. */
  dir: string;
  timeoutMs: number;
  log(text: string): void;
}

/** CPU seconds by process group during the measured part of a run. */
export interface GroupCpu {
  /** What moves records from the table to the workers and results back: mesh children, or a peer's enqueuer. */
  master: number;
  /** The worker processes (workmesh: the kit nodes). */
  workers: number;
  /** PostgreSQL: the bench database's backends and the server's WAL writer, checkpointer and background writer. */
  database: number;
  redis: number;
}

export interface PeerMeasurement {
  /** From "records in the table" to "every digest stored". */
  seconds: number;
  cpu: GroupCpu;
}

/** One system doing the bench's job. */
export interface PeerSystem {
  id: string;
  label: string;
  /** Whether the system promises per-entity order in this set-up: inversions are then violations. */
  promisesOrder: boolean;
  /** Sets up (not measured), does the job (measured), cleans up. */
  run(ctx: PeerContext): Promise<PeerMeasurement>;
}
