import { readdirSync, readFileSync } from 'node:fs';
import type { DialectName } from '../src/db/database-url.js';
import { readProcessUsage } from './process-usage.js';

const POLL_MS = 100;
const SERVER_NAMES: Record<DialectName, string[]> = { mysql: ['mariadbd', 'mysqld'], postgres: ['postgres'], sqlite: [] };

/**
 * CPU the local database server spends while something runs: every process
 * named like the server (PostgreSQL starts a backend per connection), read
 * from /proc every 100 ms. A backend that starts and ends between two
 * readings is missed; SQLite runs inside the master and counts there.
 */
export class ServerCpu {
  readonly #names: string[];
  readonly #first = new Map<number, number>();
  readonly #last = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(dialect: DialectName) {
    this.#names = SERVER_NAMES[dialect];
  }

  start(): void {
    if (this.#names.length === 0) return;
    this.#first.clear();
    this.#last.clear();
    this.#read(true);
    this.#timer = setInterval(() => this.#read(false), POLL_MS);
  }

  /** Stops reading; the CPU seconds the server used since start(). */
  stop(): number {
    if (this.#timer === undefined) return 0;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#read(false);
    let total = 0;
    for (const [pid, cpu] of this.#last) total += cpu - (this.#first.get(pid) ?? 0);
    return total;
  }

  #read(initial: boolean): void {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      let name: string;
      try {
        name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (!this.#names.includes(name)) continue;
      const usage = readProcessUsage(pid);
      if (usage === undefined) continue;
      if (initial) this.#first.set(pid, usage.cpuSeconds);
      this.#last.set(pid, usage.cpuSeconds);
    }
  }
}
