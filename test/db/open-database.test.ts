import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, openTestDatabase, TEST_SERVER_URLS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const postgres = DIALECTS.find((d) => d.name === 'postgres')!;

describe.skipIf(!postgres.available)('openDatabase on PostgreSQL', () => {
  it('survives the server ending an idle pooled connection, and the next query works', async () => {
    const test = await openTestDatabase('postgres');
    cleanups.push(test.cleanup);
    const { db } = test.database;
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
    const pid = rows[0]!.pid;

    // Another session ends the pool's idle connection, as a server restart or an administrator would.
    const admin = new pg.Client({ connectionString: TEST_SERVER_URLS.postgres });
    await admin.connect();
    try {
      const ended = await admin.query<{ ended: boolean }>('select pg_terminate_backend($1) as ended', [pid]);
      expect(ended.rows[0]!.ended).toBe(true);
    } finally {
      await admin.end();
    }
    // Give the FATAL message time to reach the idle client: without the pool's error listener it ends the process.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const again = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
    expect(again.rows[0]!.pid).not.toBe(pid);
  });
});
