import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { readProcessUsage } from '../process-usage.js';

/** CPU seconds a fixed set of processes used between two readings (the workers, the nodes). */
export class PidsCpu {
  readonly #pids: number[];
  #first: number[] = [];

  constructor(pids: number[]) {
    this.#pids = pids;
  }

  start(): void {
    this.#first = this.#pids.map((pid) => readProcessUsage(pid)?.cpuSeconds ?? 0);
  }

  /** Read before the processes exit: a process gone counts as having used nothing since start. */
  stop(): number {
    return this.#pids.reduce(
      (sum, pid, i) => sum + Math.max(0, (readProcessUsage(pid)?.cpuSeconds ?? this.#first[i]!) - this.#first[i]!),
      0,
    );
  }
}

/** The pids of every process with this command name (`redis-server`). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const BACKENDS_POLL_MS = 100;
const PROC_POLL_MS = 25;
/** The server's own processes that write for every database: WAL, checkpoints, dirty pages. */
const AUXILIARY = ['walwriter', 'checkpointer', 'background writer'];

/**
 * CPU of the PostgreSQL server on behalf of one database: every backend
 * connected to it (pg_stat_activity, polled every 100 ms from a connection to
 * another database, so the polling is not counted) and the server's WAL
 * writer, checkpointer and background writer (shared with any other database
 * on the server). A backend first seen after start() counts from its birth;
 * the CPU a backend uses after its last /proc reading (every 25 ms) is missed.
 */
export class PostgresCpu {
  readonly #serverUrl: string;
  readonly #database: string;
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  #client: pg.Client | undefined;
  #timers: NodeJS.Timeout[] = [];
  #polling: Promise<void> = Promise.resolve();

  constructor(serverUrl: string, database: string) {
    this.#serverUrl = serverUrl;
    this.#database = database;
  }

  async start(): Promise<void> {
    this.#first.clear();
    this.#last.clear();
    this.#client = new pg.Client({ connectionString: this.#serverUrl, application_name: 'bench-cpu-observer' });
    await this.#client.connect();
    for (const pid of await this.#backends()) {
      const cpu = readProcessUsage(pid)?.cpuSeconds;
      if (cpu !== undefined) {
        this.#first.set(pid, cpu);
        this.#last.set(pid, cpu);
      }
    }
    this.#timers = [
      setInterval(() => {
        this.#polling = this.#polling.then(() => this.#discover()).catch(() => undefined);
      }, BACKENDS_POLL_MS),
      setInterval(() => this.#readAll(), PROC_POLL_MS),
    ];
  }

  /** Stops polling; the CPU seconds since start(). */
  async stop(): Promise<number> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#polling;
    await this.#discover().catch(() => undefined);
    this.#readAll();
    await this.#client?.end().catch(() => undefined);
    let total = 0;
    for (const [pid, cpu] of this.#last) total += cpu - (this.#first.get(pid) ?? 0);
    return total;
  }

  async #backends(): Promise<number[]> {
    const { rows } = await this.#client!.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 or backend_type = any($2::text[])',
      [this.#database, AUXILIARY],
    );
    return rows.map((r) => r.pid);
  }

  async #discover(): Promise<void> {
    for (const pid of await this.#backends()) {
      if (this.#last.has(pid)) continue;
      // Born after start(): all of its CPU was spent during the measurement.
      this.#first.set(pid, 0);
      const cpu = readProcessUsage(pid)?.cpuSeconds;
      if (cpu !== undefined) this.#last.set(pid, cpu);
    }
  }

  #readAll(): void {
    for (const pid of this.#last.keys()) {
      const cpu = readProcessUsage(pid)?.cpuSeconds;
      if (cpu !== undefined) this.#last.set(pid, cpu);
    }
  }
}
