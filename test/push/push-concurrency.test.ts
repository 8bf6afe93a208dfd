import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_MS, defaultLeaseMs, streamKey } from '../../src/db/stream-lease.js';
import type { PushStreamOutcome, PushSummary } from '../../src/push/push-outcome.js';
import { pushRecords } from '../../src/push/push-records.js';
import {
  idsOnNode,
  insertAccounts,
  insertRecords,
  meshConfig,
  migrateAndAssign,
  orderViolation,
  range,
  readFlags,
  readLeases,
  readNodeStore,
  readRecords,
  scrambledRecords,
  SERVICE,
  spawnMesh,
  writeMeshConfig,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-push-' });

/** Ids received more than once. */
function repeated(ids: number[]): number[] {
  const seen = new Set<number>();
  const again = new Set<number>();
  for (const id of ids) (seen.has(id) ? again : seen).add(id);
  return [...again].sort((a, b) => a - b);
}

const LEASE_MS = 4_000;
/** How a stream held by another master is reported. */
const SKIPPED = /^another master is .*push/;

describe('WORKMESH_LEASE_MS', () => {
  it('sets the lease time-to-live when given, and is refused unless a positive whole number', () => {
    expect(defaultLeaseMs({})).toBe(DEFAULT_LEASE_MS);
    expect(defaultLeaseMs({ WORKMESH_LEASE_MS: '' })).toBe(DEFAULT_LEASE_MS);
    expect(defaultLeaseMs({ WORKMESH_LEASE_MS: '2500' })).toBe(2500);
    for (const bad of ['0', '-5', '1.5', '10s']) {
      expect(() => defaultLeaseMs({ WORKMESH_LEASE_MS: bad })).toThrow(
        `WORKMESH_LEASE_MS must be a positive whole number of milliseconds (got "${bad}")`,
      );
    }
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`concurrent and interrupted pushes (${dialect.name})`, () => {
    it('two mesh push processes started at once never send a record twice to a node, keep the order, and leave no lease', async () => {
      const t = await newTest(dialect.name, 3);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false };
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url, '--json'];
      await insertAccounts(t.database, range(1, 6));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 150, accounts: 6 }));
      await migrateAndAssign(t.database, meshConfig(spec));
      // Each answer takes a while, so that both processes are at work at the same time.
      for (const proxy of t.proxies) proxy.fault = (r) => (r.endpoint === 'push' ? { kind: 'delay-answer', ms: 300 } : undefined);

      const runs = await Promise.all([spawnMesh(['push', ...args]).done, spawnMesh(['push', ...args]).done]);
      for (const run of runs) expect(run.stderr).toBe('');
      expect(runs.map((r) => r.code)).toEqual([0, 0]);
      const summaries = runs.map((r) => JSON.parse(r.stdout) as PushSummary);
      expect(summaries[0]!.pushed + summaries[1]!.pushed).toBe(150);
      const outcomes: PushStreamOutcome[] = summaries.flatMap((s) => s.nodes);
      // They overlapped: at least one stream was found leased by the other process and skipped.
      expect(outcomes.filter((o) => o.skipped !== undefined && SKIPPED.test(o.skipped)).length).toBeGreaterThanOrEqual(1);

      const records = await readRecords(t.database);
      for (const [i, proxy] of t.proxies.entries()) {
        const node = `node${i + 1}`;
        expect(proxy.pushedIds()).toEqual(idsOnNode(records, node));
        const pushedByProcess = outcomes.filter((o) => o.node === node).map((o) => o.pushed);
        expect(pushedByProcess.reduce((a, b) => a + b, 0)).toBe(50);
      }
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].every((f) => f.pushSuccess === true && f.pushAttempts === 1)).toBe(true);
      expect(await readLeases(t.database)).toEqual([]);
    });

    it('takes over a stale lease of another master, and leaves a live one alone', async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 4, pull: false });
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 24, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const stale = {
        stream: streamKey('push', SERVICE, 'node1', t.protocol),
        owner: 'crashed-host:4242:deadbeef',
        expires_at: Date.now() - 5_000,
      };
      const live = {
        stream: streamKey('push', SERVICE, 'node2', t.protocol),
        owner: 'other-host:77:cafebabe',
        expires_at: Date.now() + 600_000,
      };
      await t.database.db.insertInto('workmesh_lease').values([stale, live]).execute();

      const summary = await pushRecords(t.database, config);
      expect(summary.nodes).toEqual([
        { service: SERVICE, protocol: t.protocol, node: 'node1', pushed: 12, failed: 0 },
        { service: SERVICE, protocol: t.protocol, node: 'node2', pushed: 0, failed: 0, skipped: expect.stringMatching(SKIPPED) },
      ]);
      const records = await readRecords(t.database);
      expect(t.proxies[0]!.pushedIds()).toEqual(idsOnNode(records, 'node1'));
      expect(t.proxies[1]!.requests).toEqual([]);
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const id of idsOnNode(records, 'node2')) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushAttempts: 0 });
      // The stale lease was taken, then released; the live one is untouched.
      expect(await readLeases(t.database)).toEqual([{ stream: live.stream, owner: live.owner, expiresAt: live.expires_at }]);
    });

    it('after kill -9 mid-push, a rerun loses nothing and only re-sends the unconfirmed batch; the dead lease blocks for at most its TTL', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 120, accounts: 4 }));
      await migrateAndAssign(t.database, config);

      // Nodes store each batch at once and answer late; the master is killed when node1 receives its fourth batch.
      const push = spawnMesh(['push', ...args], { WORKMESH_LEASE_MS: String(LEASE_MS) });
      let killedAt = 0;
      t.proxies[0]!.fault = (r) => {
        if (r.endpoint === 'push' && t.proxies[0]!.of('push').length === 4 && killedAt === 0) {
          push.child.kill('SIGKILL');
          killedAt = Date.now();
        }
        return r.endpoint === 'push' ? { kind: 'delay-answer', ms: 150 } : undefined;
      };
      t.proxies[1]!.fault = (r) => (r.endpoint === 'push' ? { kind: 'delay-answer', ms: 150 } : undefined);
      const killed = await push.done;
      expect(killed.signal).toBe('SIGKILL');
      expect(killedAt).toBeGreaterThan(0);

      // The killed master left its leases; they expire within the TTL of the kill.
      const leases = await readLeases(t.database);
      expect(leases.map((l) => l.stream).sort()).toEqual([
        streamKey('push', SERVICE, 'node1', t.protocol),
        streamKey('push', SERVICE, 'node2', t.protocol),
      ]);
      for (const lease of leases) {
        expect(lease.owner).toContain(`:${push.child.pid}:`);
        expect(lease.expiresAt).toBeLessThanOrEqual(killedAt + LEASE_MS + 50);
      }
      // A rerun while the lease is live skips both streams.
      const blocked = await pushRecords(t.database, config);
      expect(Date.now()).toBeLessThan(Math.min(...leases.map((l) => l.expiresAt)));
      expect(blocked.pushed).toBe(0);
      expect(blocked.nodes.map((n) => n.skipped)).toEqual([expect.stringMatching(SKIPPED), expect.stringMatching(SKIPPED)]);

      // Let the proxies finish forwarding what they had received.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const records = await readRecords(t.database);
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      // Received by a node, never confirmed to the master: the batch in flight (at least node1's fourth).
      const unconfirmed = new Set(t.proxies.flatMap((p) => p.pushedIds()).filter((id) => flags.get(id)!.pushSuccess === null));
      const node1Fourth = t.proxies[0]!.forwardedPushes()[3]!.ids.map(Number);
      expect(node1Fourth.every((id) => unconfirmed.has(id))).toBe(true);
      expect(readNodeStore(t.backends[0]!.dataFile, t.protocol).map((r) => r.id)).toEqual(expect.arrayContaining(node1Fourth));
      expect([...flags.values()].some((f) => f.pushSuccess === null)).toBe(true);

      // Once the lease has expired, the rerun takes over and finishes.
      const expiry = Math.max(...leases.map((l) => l.expiresAt));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now() + 20)));
      for (const proxy of t.proxies) proxy.fault = undefined;
      const rerun = await pushRecords(t.database, config, { leaseTtlMs: LEASE_MS });
      expect(rerun.nodes.map((n) => n.skipped)).toEqual([undefined, undefined]);
      expect(rerun.failed).toBe(0);
      // The rerun marked the killed master's run abandoned; the two in-process runs finished.
      const runs = await t.database.db.selectFrom('workmesh_run').select(['owner', 'status']).orderBy('started_at').execute();
      expect(runs.map((r) => [String(r.owner).includes(`:${push.child.pid}:`), r.status])).toEqual([
        [true, 'abandoned'],
        [false, 'ok'],
        [false, 'ok'],
      ]);

      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].every((f) => f.pushSuccess === true && f.pushError === null)).toBe(true);
      for (const [i, proxy] of t.proxies.entries()) {
        const expected = idsOnNode(records, `node${i + 1}`);
        const received = proxy.pushedIds();
        expect(orderViolation(received, records, unconfirmed)).toBeUndefined();
        // Duplicates are re-sends of unconfirmed records only, and every unconfirmed record of this node was re-sent.
        expect(repeated(received).every((id) => unconfirmed.has(id))).toBe(true);
        expect(repeated(received)).toEqual(expected.filter((id) => unconfirmed.has(id)).sort((a, b) => a - b));
        expect([...new Set(received)].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
        expect(readNodeStore(t.backends[i]!.dataFile, t.protocol).map((r) => r.id)).toEqual(expected);
      }
      expect(await readLeases(t.database)).toEqual([]);
    });
  });
}
