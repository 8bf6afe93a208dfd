import type { KyselyPlugin } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/config/service-config.js';
import type { Database } from '../../src/db/open-database.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { addRecordCounts, ensureRecordCountRows, readRecordCounts } from '../../src/db/record-counts.js';
import { startRun } from '../../src/db/run-log.js';
import { recordStreamHistory } from '../../src/db/stream-history.js';
import { StreamLeases } from '../../src/db/stream-lease.js';
import { recordNodeSuccesses } from '../../src/health/record-node-health.js';
import { createSaasSchema, saasConfigObjects, toMeshConfig } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** More than two chunks of the batched statements, so every chunk boundary is crossed. */
const COUNT = 1_200;
const LEASE_MS = 600_000;
const names = (prefix: string) => Array.from({ length: COUNT }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
const indexOf = (name: string) => Number(name.slice(-4));

async function migratedDatabase(dialect: (typeof DIALECTS)[number]['name']): Promise<Database> {
  const test = await openTestDatabase(dialect);
  cleanups.push(test.cleanup);
  await createSaasSchema(test.database);
  const config = toMeshConfig(saasConfigObjects({ nodes: [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k' }] }));
  expect((await migrateDatabase(test.database, config, { dryRun: false })).problems).toEqual([]);
  return test.database;
}

/** The database, counting the statements run through it: a batched write runs a few per chunk, not one per item. */
function counted(db: Db): { db: Db; statements: () => number } {
  let statements = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      statements++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: db.withPlugin(plugin), statements: () => statements };
}

function leasesOf(database: Database, owner: string, lost: string[] = [], db: Db = database.db): StreamLeases {
  const leases = new StreamLeases({ db, dialect: database.dialect, owner, ttlMs: LEASE_MS, onLost: (s) => lost.push(s) });
  cleanups.push(() => leases.releaseAll());
  return leases;
}

async function leaseOwners(database: Database): Promise<Map<string, { owner: string; expiresAt: number }>> {
  const rows = await database.db.selectFrom('workmesh_lease').selectAll().execute();
  return new Map(rows.map((r) => [String(r.stream), { owner: String(r.owner), expiresAt: Number(r.expires_at) }]));
}

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`batched per-node writes on ${dialect}`, () => {
    it('acquire takes free, expired and own streams in one call of many chunks, never a live lease of another master', async () => {
      const database = await migratedDatabase(dialect);
      const streams = names('push:svc:node:p');
      const now = Date.now();
      // By the last digit: 1 live lease of another master, 2 expired one of another, 3 expired own one, 4 live own one.
      const held = { 1: ['other', now + LEASE_MS], 2: ['other', now - 1], 3: ['me', now - 1], 4: ['me', now + 1_000] } as const;
      const existing = streams.flatMap((stream) => {
        const lease = held[(indexOf(stream) % 10) as keyof typeof held] as (typeof held)[keyof typeof held] | undefined;
        return lease === undefined ? [] : [{ stream, owner: lease[0], expires_at: lease[1] }];
      });
      await database.db.insertInto('workmesh_lease').values(existing).execute();

      const counter = counted(database.db);
      const leases = leasesOf(database, 'me', [], counter.db);
      // Asked in reverse, with one asked twice: the answer keeps the order asked.
      const asked = [...streams].reverse();
      asked.splice(10, 0, streams[0]!);
      const acquired = await leases.acquire(asked);
      expect(acquired).toEqual(asked.filter((s) => indexOf(s) % 10 !== 1));
      // Three chunks of an update, an insert and a select.
      expect(counter.statements()).toBe(9);

      const owners = await leaseOwners(database);
      expect(owners.size).toBe(COUNT);
      for (const stream of streams) {
        const lease = owners.get(stream)!;
        if (indexOf(stream) % 10 === 1) {
          expect([stream, lease.owner, lease.expiresAt]).toEqual([stream, 'other', now + LEASE_MS]);
          expect(leases.has(stream)).toBe(false);
        } else {
          expect([stream, lease.owner, lease.expiresAt >= now + LEASE_MS]).toEqual([stream, 'me', true]);
          expect(leases.has(stream)).toBe(true);
        }
      }
    });

    it('renew extends every held lease in chunks and drops and reports those taken over or gone behind its back', async () => {
      const database = await migratedDatabase(dialect);
      const streams = names('pull:svc:node:p');
      const lost: string[] = [];
      const counter = counted(database.db);
      const leases = leasesOf(database, 'me', lost, counter.db);
      expect(await leases.acquire(streams)).toEqual(streams);
      const stolen = streams.filter((s) => indexOf(s) % 7 === 3);
      const deleted = streams.filter((s) => indexOf(s) % 11 === 5 && indexOf(s) % 7 !== 3);
      await database.db.updateTable('workmesh_lease').set({ owner: 'thief' }).where('stream', 'in', stolen).execute();
      await database.db.deleteFrom('workmesh_lease').where('stream', 'in', deleted).execute();
      // Set back, so the renewal shows in the expiry.
      await database.db.updateTable('workmesh_lease').set({ expires_at: 1 }).execute();

      const before = Date.now();
      const acquiring = counter.statements();
      await leases.renew();
      // Three chunks, each with losses: an update and a select.
      expect(counter.statements() - acquiring).toBe(6);
      expect([...lost].sort()).toEqual([...stolen, ...deleted].sort());
      const gone = new Set(lost);
      for (const stream of streams) expect([stream, leases.has(stream)]).toEqual([stream, !gone.has(stream)]);
      const owners = await leaseOwners(database);
      for (const stream of streams.filter((s) => !gone.has(s))) {
        expect([stream, owners.get(stream)!.owner, owners.get(stream)!.expiresAt >= before + LEASE_MS]).toEqual([stream, 'me', true]);
      }
      for (const stream of stolen) expect([stream, owners.get(stream)!.owner, owners.get(stream)!.expiresAt]).toEqual([stream, 'thief', 1]);

      // Nothing more to lose: a second renewal reports nothing, with an update per chunk (of the 936 left) only.
      const renewing = counter.statements();
      await leases.renew();
      expect(lost.length).toBe(stolen.length + deleted.length);
      expect([COUNT - lost.length, counter.statements() - renewing]).toEqual([936, 2]);
    });

    it('recordNodeSuccesses resets failing nodes, inserts unseen ones and leaves other nodes alone', async () => {
      const database = await migratedDatabase(dialect);
      const nodes = names('node');
      const failing = { failing_since: 100, failures: 3, last_error: 'refused', next_try_at: 900, last_success_at: 50 };
      // By index mod 3: 0 failing, 1 no row yet, 2 healthy with an older success.
      const rows = nodes.flatMap((node) => {
        const kind = indexOf(node) % 3;
        if (kind === 1) return [];
        return [
          kind === 0
            ? { node, ...failing }
            : { node, failing_since: null, failures: 0, last_error: null, next_try_at: null, last_success_at: 60 },
        ];
      });
      await database.db
        .insertInto('workmesh_node_health')
        .values([...rows, { node: 'untouched', ...failing }])
        .execute();

      const now = 1_800_000_000_000;
      const counter = counted(database.db);
      await recordNodeSuccesses(counter.db, [...nodes, nodes[1]!], now);
      // Three chunks, each with nodes never seen: an update, a select and an insert.
      expect(counter.statements()).toBe(9);

      const health = await database.db.selectFrom('workmesh_node_health').selectAll().execute();
      expect(health.length).toBe(COUNT + 1);
      const read = (r: (typeof health)[number]) => [
        r.node,
        r.failing_since === null ? null : Number(r.failing_since),
        Number(r.failures),
        r.last_error ?? null,
        r.next_try_at === null ? null : Number(r.next_try_at),
        r.last_success_at === null ? null : Number(r.last_success_at),
      ];
      const byNode = new Map(health.map((r) => [String(r.node), read(r)]));
      for (const node of nodes) expect(byNode.get(node)).toEqual([node, null, 0, null, null, now]);
      expect(byNode.get('untouched')).toEqual(['untouched', 100, 3, 'refused', 900, 50]);
    });

    it('the stream totals are upserted for existing and new streams at once, and add up over runs', async () => {
      const database = await migratedDatabase(dialect);
      const { db } = database;
      const nodes = names('node');
      const key = { service: 'svc', protocol: 'deliveries' };
      // Even nodes have totals from earlier runs.
      await db
        .insertInto('workmesh_stream_totals')
        .values(nodes.filter((n) => indexOf(n) % 2 === 0).map((node) => ({ stage: 'push', ...key, node, records: 10, failed: 1 })))
        .execute();
      const pushed = (i: number) => i % 5;
      const failed = (i: number) => i % 3;
      const outcomes = nodes.map((node) => ({ ...key, node, pushed: pushed(indexOf(node)), failed: failed(indexOf(node)) }));
      const counter = counted(db);
      for (let run = 0; run < 2; run++) await recordStreamHistory(counter.db, await startRun(db, 'push', 'me'), 'push', outcomes);
      // Per run: the run's start, three chunks of history rows, three upserts of totals, the pruning.
      expect(counter.statements()).toBe(2 * 8);
      await recordStreamHistory(db, await startRun(db, 'pull', 'me'), 'pull', [{ ...key, node: nodes[0]!, pulled: 4, failed: 0 }]);

      const totals = await db.selectFrom('workmesh_stream_totals').selectAll().execute();
      const actual = new Map(totals.map((t) => [`${t.stage} ${t.node}`, [Number(t.records), Number(t.failed)]]));
      const expected = new Map<string, number[]>([[`pull ${nodes[0]}`, [4, 0]]]);
      for (const node of nodes) {
        const i = indexOf(node);
        const earlier = i % 2 === 0 ? [10, 1] : [0, 0];
        const moved = pushed(i) > 0 || failed(i) > 0;
        if (i % 2 === 0 || moved) expected.set(`push ${node}`, [earlier[0]! + 2 * pushed(i), earlier[1]! + 2 * failed(i)]);
      }
      expect(actual.size).toBe(expected.size);
      expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
      expect(
        Number(
          (
            await db
              .selectFrom('workmesh_stream_history')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      ).toBe(2 * COUNT + 1);
    });

    it('the counter rows of many nodes are created in a few statements, existing ones left as they are', async () => {
      const database = await migratedDatabase(dialect);
      const config = toMeshConfig(saasConfigObjects({ nodes: [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k' }] }));
      const service = config.services[0]!;
      const protocol = service.protocols[0]!;
      const nodes = names('counted');
      await ensureRecordCountRows(database.db, database.dialect, service, protocol, nodes.slice(0, 10));
      await addRecordCounts(database.db, database.dialect, service, protocol, [{ node: nodes[3]!, state: 'processed', records: 7 }]);
      const { db, statements } = counted(database.db);
      await ensureRecordCountRows(db, database.dialect, service, protocol, nodes);
      // A read and ceil(2,380 / 500) inserts, not one a row.
      expect(statements()).toBeLessThanOrEqual(1 + Math.ceil(((COUNT - 10) * 2) / 500));
      const counts = await readRecordCounts(database.db, service, protocol);
      expect(counts).toHaveLength(COUNT * 2);
      expect(counts.filter((c) => c.records !== 0)).toEqual([{ node: nodes[3], state: 'processed', records: 7 }]);
    });
  });
}
