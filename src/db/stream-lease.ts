import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../config/service-config.js';
import type { DialectName } from './database-url.js';
import { ignoringConflicts } from './ignore-conflicts.js';
import { chunksOf } from './statement-chunks.js';

export const DEFAULT_LEASE_MS = 60_000;

/**
 * The lease time-to-live when the caller gives none: `WORKMESH_LEASE_MS` when
 * set (a shorter lease lets a rerun take over sooner after a master was
 * killed), else DEFAULT_LEASE_MS. Read when a StreamLeases is made, not on import.
 */
export function defaultLeaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WORKMESH_LEASE_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_LEASE_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1) throw new Error(`WORKMESH_LEASE_MS must be a positive whole number of milliseconds (got "${raw}")`);
  return ms;
}

/** Who holds a lease: this master process. */
export function newLeaseOwner(): string {
  return `${hostname().slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** `push:<service>:<node>:<protocol>`, hashed down when longer than the key column. */
export function streamKey(stage: 'push' | 'pull', service: string, node: string, protocol: string): string {
  const key = `${stage}:${service}:${node}:${protocol}`;
  if (key.length <= 191) return key;
  return `${key.slice(0, 150)}#${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/**
 * Leases on streams in `workmesh_lease`: a stream is worked by one master at a
 * time. A lease lasts `ttlMs` and is renewed while the work goes on; a master
 * that dies stops renewing, and its leases expire on their own.
 *
 * @example
 * const leases = new StreamLeases({ db, dialect, owner: newLeaseOwner() });
 * const mine = await leases.acquire(['push:svc:node1:deliveries']);
 * try { ... } finally { await leases.releaseAll(); }
 */
export class StreamLeases {
  readonly #db: Db;
  readonly #dialect: DialectName;
  readonly #owner: string;
  readonly #ttlMs: number;
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #lost: (stream: string) => void = () => undefined;

  constructor(props: { db: Db; dialect: DialectName; owner: string; ttlMs?: number; onLost?: (stream: string) => void }) {
    this.#db = props.db;
    this.#dialect = props.dialect;
    this.#owner = props.owner;
    this.#ttlMs = props.ttlMs ?? defaultLeaseMs();
    if (props.onLost) this.#lost = props.onLost;
  }

  get owner(): string {
    return this.#owner;
  }

  /** How long a lease lives unless renewed. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  has(stream: string): boolean {
    return this.#held.has(stream);
  }

  /**
   * Takes the streams that are free or expired; returns those now held, in
   * the order given. A few statements per chunk of streams, whatever their
   * number: take over the expired and own leases, insert the missing ones
   * (a row another master inserted first stays its), then read which are
   * this owner's.
   */
  async acquire(streams: string[]): Promise<string[]> {
    // Sorted, so two masters taking overlapping streams lock the rows in the same order (MariaDB would deadlock otherwise).
    const sorted = [...new Set(streams)].sort();
    const taken = new Set<string>();
    for (const chunk of chunksOf(sorted)) for (const stream of await this.#take(chunk)) taken.add(stream);
    for (const stream of taken) this.#held.add(stream);
    this.#startRenewing();
    return streams.filter((stream) => taken.has(stream));
  }

  async #take(streams: string[]): Promise<string[]> {
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    // An expired lease, or one this owner already holds, is taken over in place.
    await this.#db
      .updateTable('workmesh_lease')
      .set({ owner: this.#owner, expires_at: expiresAt })
      .where('stream', 'in', streams)
      .where((eb) => eb.or([eb('expires_at', '<', now), eb('owner', '=', this.#owner)]))
      .execute();
    const rows = streams.map((stream) => ({ stream, owner: this.#owner, expires_at: expiresAt }));
    await ignoringConflicts(this.#db.insertInto('workmesh_lease').values(rows), this.#dialect).execute();
    return this.#ownedOf(streams);
  }

  /** Which of these streams' leases are this owner's now. */
  async #ownedOf(streams: string[]): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('workmesh_lease')
      .select('stream')
      .where('stream', 'in', streams)
      .where('owner', '=', this.#owner)
      .execute();
    return rows.map((row) => String(row.stream));
  }

  /** Extends every held lease; a lease found taken over (a paused master) is dropped and reported. */
  async renew(): Promise<void> {
    const expiresAt = Date.now() + this.#ttlMs;
    for (const chunk of chunksOf([...this.#held].sort())) {
      const updated = await this.#db
        .updateTable('workmesh_lease')
        .set({ expires_at: expiresAt })
        .where('stream', 'in', chunk)
        .where('owner', '=', this.#owner)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) >= chunk.length) continue;
      const owned = new Set(await this.#ownedOf(chunk));
      // Still held: one released while this renewal ran is no loss.
      for (const stream of chunk) if (!owned.has(stream) && this.#held.delete(stream)) this.#lost(stream);
    }
  }

  async release(stream: string): Promise<void> {
    this.#held.delete(stream);
    await this.#db.deleteFrom('workmesh_lease').where('stream', '=', stream).where('owner', '=', this.#owner).execute();
  }

  async releaseAll(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const streams = [...this.#held];
    this.#held.clear();
    if (streams.length === 0) return;
    await this.#db.deleteFrom('workmesh_lease').where('stream', 'in', streams).where('owner', '=', this.#owner).execute();
  }

  #startRenewing(): void {
    if (this.#timer || this.#held.size === 0) return;
    // Renewed three times per lease, so a short lease never lapses between renewals.
    this.#timer = setInterval(
      () => {
        this.renew().catch(() => undefined);
      },
      Math.max(50, Math.floor(this.#ttlMs / 3)),
    );
    this.#timer.unref();
  }
}
