import { describe, expect, it } from 'vitest';
import { drainNode, reassignEntity } from '../../src/assign/move-entities.js';
import { MoveRefused } from '../../src/assign/move-refused.js';
import {
  BASE_TIME_MS,
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  migrateAndAssign,
  NODE_COLUMN,
  range,
  readNodeStore,
  readRecords,
  serviceOf,
  spawnMesh,
  writeMeshConfig,
  type MeshProcess,
} from '../helpers/mesh-fixture.js';
import { expectCountsMatchRecount } from '../helpers/count-checks.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

/**
 * A randomized soak (issue 13.5): records inserted all along, `mesh push`
 * and `mesh pull` started and SIGKILLed at random, nodes killed and
 * restarted, entities reassigned (with and without --repush) and nodes
 * drained while pushes run; then everything healed and run until quiet, and
 * checked against the nodes' own stores: every record reached the node its
 * flags say (and, when its entity's last move re-pushed, the entity's node),
 * every result was pulled from the node that has it, and per entity the
 * first arrivals across nodes are in (sort, id) order, except for entities
 * re-pushed (the contract lets a re-push send older records again).
 * About 30 s of chaos per database; WORKMESH_SOAK_MS sets another length.
 * The seed is printed on failure (WORKMESH_SOAK_SEED replays one).
 */

const SOAK_MS = Number(process.env.WORKMESH_SOAK_MS ?? 30_000);
const NODES = ['node1', 'node2', 'node3'];
const ACCOUNTS = 9;

const suite = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-soak-' });

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`soak (${dialect.name})`, () => {
    it(
      'kills, node outages, moves and re-pushes during pushes and pulls lose nothing once healed',
      async () => {
        const seed = Number(process.env.WORKMESH_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
        const rand = random(seed);
        const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;
        const t = await suite.newTest(dialect.name, 3);
        const processes = suite.cluster().processes;
        const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 10, maxAttempts: 1_000_000 };
        const config = meshConfig(spec);
        const args = [...writeMeshConfig(suite.tempDir(), spec), '--db', t.url];
        const env = { WORKMESH_LEASE_MS: '2000' };
        const { service } = serviceOf(config);
        await insertAccounts(t.database, range(1, ACCOUNTS));
        await migrateAndAssign(t.database, config);

        let nextId = 1;
        let inserting = true;
        const inserter = (async () => {
          while (inserting) {
            const batch = range(nextId, nextId + 4).map((id) => ({
              id,
              account: ((id * 7) % ACCOUNTS) + 1,
              timeMs: BASE_TIME_MS + id * 1000,
            }));
            nextId += 5;
            await insertRecords(t.database, batch);
            await sleep(40);
          }
        })();

        const running = new Set<MeshProcess>();
        const down = new Set<string>();
        const repushed = new Set<number>();
        const lastMoveRepushed = new Map<number, boolean>();
        const actions = { push: 0, pull: 0, kills: 0, nodeKills: 0, moves: 0, repushes: 0, drains: 0 };
        const start = (command: 'push' | 'pull') => {
          const child = spawnMesh([command, '--json', ...args], env, { timeoutMs: 120_000 });
          running.add(child);
          void child.done.finally(() => running.delete(child));
          actions[command]++;
        };
        const deadline = Date.now() + SOAK_MS;
        try {
          while (Date.now() < deadline) {
            const roll = rand();
            if (roll < 0.3) {
              if (running.size < 3) start(rand() < 0.6 ? 'push' : 'pull');
            } else if (roll < 0.45) {
              if (running.size > 0) {
                pick([...running]).child.kill('SIGKILL');
                actions.kills++;
              }
            } else if (roll < 0.55) {
              const node = pick(NODES);
              if (down.has(node)) {
                await processes.restart(node);
                down.delete(node);
              } else if (down.size === 0) {
                await processes.kill(node);
                down.add(node);
                actions.nodeKills++;
              }
            } else if (roll < 0.85) {
              const account = 1 + Math.floor(rand() * ACCOUNTS);
              const repush = rand() < 0.4;
              try {
                await reassignEntity(t.database.db, config, service, String(account), { to: pick(NODES), repush });
                actions.moves++;
                if (repush) {
                  actions.repushes++;
                  repushed.add(account);
                }
                lastMoveRepushed.set(account, repush);
              } catch (error) {
                if (!(error instanceof MoveRefused)) throw error;
              }
            } else if (roll < 0.88) {
              const node = pick(NODES);
              const repush = rand() < 0.5;
              const entities = (await t.database.db.selectFrom('account').select('id').where(NODE_COLUMN, '=', node).execute()).map((r) =>
                Number(r.id),
              );
              await drainNode(t.database.db, config, node, { repush });
              for (const account of entities) {
                lastMoveRepushed.set(account, repush);
                if (repush) repushed.add(account);
              }
              actions.drains++;
            }
            await sleep(50 + rand() * 250);
          }
        } catch (error) {
          throw new Error(`soak seed ${seed}: ${(error as Error).message}`, { cause: error });
        } finally {
          inserting = false;
          await inserter;
          for (const child of running) child.child.kill('SIGKILL');
          await Promise.all([...running].map((c) => c.done));
          for (const node of down) await processes.restart(node);
        }
        // The report counters survived the SIGKILLs, the moves and the masters running side by side.
        await expectCountsMatchRecount(t.database, config, `soak seed ${seed}, after the chaos`);

        // Heal: push and pull until every record is delivered and pulled (killed masters' leases expire in 2 s).
        const total = nextId - 1;
        const quietBy = Date.now() + 120_000;
        let flags: { id: number; pushSuccess: unknown; pushNode: unknown; pullSuccess: unknown; hash: unknown }[] = [];
        const pending = () => flags.filter((f) => !(toBool(f.pushSuccess) && toBool(f.pullSuccess)));
        for (;;) {
          await mesh(['push', '--json', ...args], env);
          await sleep(300);
          await mesh(['pull', '--json', ...args], env);
          const rows = await t.database.db
            .selectFrom('delivery')
            .select([
              'id',
              `${t.protocol}_push_success as ps`,
              `${t.protocol}_push_node as pn`,
              `${t.protocol}_pull_success as pl`,
              'result_hash',
            ])
            .execute();
          flags = rows.map((r) => ({ id: Number(r.id), pushSuccess: r.ps, pushNode: r.pn, pullSuccess: r.pl, hash: r.result_hash }));
          if (flags.length === total && pending().length === 0) break;
          if (Date.now() > quietBy)
            throw new Error(`soak seed ${seed}: ${pending().length} of ${total} records not delivered and pulled after healing`);
          await sleep(500);
        }

        const stores = new Map(t.backends.map((b, i) => [NODES[i]!, new Map(readNodeStore(b.dataFile, t.protocol).map((r) => [r.id, r]))]));
        const records = await readRecords(t.database);
        const problems: string[] = [];
        for (const flag of flags) {
          const node = String(flag.pushNode);
          const held = stores.get(node)?.get(flag.id);
          if (held === undefined) problems.push(`record ${flag.id}: flagged delivered to ${node}, which does not have it`);
          else if (held.result?.hash !== flag.hash) problems.push(`record ${flag.id}: result ${String(flag.hash)} is not ${node}'s`);
          const info = records.get(flag.id)!;
          if (lastMoveRepushed.get(info.account) === true && node !== info.node) {
            problems.push(
              `record ${flag.id}: its entity was last moved with --repush to ${info.node}, but it is flagged delivered to ${node}`,
            );
          }
          if (lastMoveRepushed.get(info.account) === true && !stores.get(info.node!)?.has(flag.id)) {
            problems.push(`record ${flag.id}: ${info.node} (its entity's node since a --repush) never received it`);
          }
        }
        // Per entity, first arrivals across all nodes (as the proxies saw them forwarded) in (sort, id) order.
        const arrivals = t.proxies
          .flatMap((proxy) => proxy.forwardedPushes())
          .flatMap((r) => r.ids.map((id) => ({ id: Number(id), at: r.receivedAt })))
          .sort((a, b) => a.at - b.at || records.get(a.id)!.rank - records.get(b.id)!.rank);
        const seen = new Set<number>();
        const lastRank = new Map<number, number>();
        for (const { id } of arrivals) {
          if (seen.has(id)) continue;
          seen.add(id);
          const info = records.get(id)!;
          if (repushed.has(info.account)) continue;
          if (info.rank < (lastRank.get(info.account) ?? -1))
            problems.push(`entity ${info.account}: record ${id} first arrived after a later record`);
          lastRank.set(info.account, info.rank);
        }
        expect({ seed, problems: problems.slice(0, 10), count: problems.length }).toEqual({ seed, problems: [], count: 0 });
        await expectCountsMatchRecount(t.database, config, `soak seed ${seed}, healed`);
        console.log(`soak ${dialect.name} seed ${seed}: ${total} records, ${JSON.stringify(actions)}: nothing lost`);
      },
      SOAK_MS + 240_000,
    );
  });
}

function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}
