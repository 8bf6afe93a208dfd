import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Database } from '../../src/db/open-database.js';

const TICK_MS = 50;

export interface InsertStats {
  inserted: number;
  seconds: number;
  /** The largest number of records one statement inserted (above rate × tick: the inserter fell behind). */
  largestStatement: number;
}

/**
 * Inserts deliveries at a steady rate, as a SaaS application writes them: every
 * 50 ms, the records due by then in one statement, ids continuing from
 * `firstId`, the sort column and `inserted_at` taken from the server's clock
 * at the insert (clock_timestamp()).
 */
export async function insertSteadily(
  database: Database,
  props: { rate: number; seconds: number; entities: number; firstId: number },
): Promise<InsertStats> {
  const started = Date.now();
  let inserted = 0;
  let largestStatement = 0;
  for (;;) {
    const elapsed = (Date.now() - started) / 1000;
    const due = Math.min(Math.floor(props.rate * elapsed), Math.round(props.rate * props.seconds));
    if (due > inserted) {
      const first = props.firstId + inserted;
      const last = props.firstId + due - 1;
      await sql`
        insert into delivery (id, id_account, create_time, subject, inserted_at)
        select g, ((g - 1) % ${props.entities}) + 1, clock_timestamp(), 'message ' || g, clock_timestamp()
        from generate_series(${first}::integer, ${last}::integer) g`.execute(database.db);
      largestStatement = Math.max(largestStatement, due - inserted);
      inserted = due;
    }
    if (elapsed >= props.seconds) break;
    await sleep(TICK_MS - ((Date.now() - started) % TICK_MS));
  }
  return { inserted, seconds: (Date.now() - started) / 1000, largestStatement };
}
