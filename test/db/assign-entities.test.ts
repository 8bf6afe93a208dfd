import { afterEach, describe, expect, it } from 'vitest';
import { assignService } from '../../src/assign/assign-service.js';
import { drainNode, MoveRefused, reassignEntity, rebalanceService } from '../../src/assign/move-entities.js';
import type { MeshConfig, ResolvedService } from '../../src/config/mesh-config.js';
import type { AssignCriterion } from '../../src/config/service-config.js';
import type { DialectName } from '../../src/db/database-url.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import type { Database } from '../../src/db/open-database.js';
import {
  createSaasSchema,
  readAssignments,
  saasConfigObjects,
  SAAS_NODE_COLUMN,
  SAAS_SERVICE,
  seedSaas,
  setRecordFlags,
  toMeshConfig,
  type SaasNodeOptions,
} from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type NodeSpec = string | { name: string; maxEntities?: number; maxWeight?: number };

/** The SaaS service plus a `profiles` protocol on the entity table itself, so that repush has two protocols to clear. */
function meshConfig(nodes: NodeSpec[], assign: AssignCriterion = 'roundrobin'): MeshConfig {
  const nodeOptions: SaasNodeOptions[] = nodes.map((spec, i) => ({
    ...(typeof spec === 'string' ? { name: spec } : spec),
    url: `http://127.0.0.1:${3001 + i}`,
    apiKey: `key-${i}`,
  }));
  const objects = saasConfigObjects({ nodes: nodeOptions, assign });
  objects.services[0]!.protocols.push({
    name: 'profiles',
    table: 'account',
    id: 'id',
    sort: 'id',
    push: { path: '/api/1.0/profiles/push.json' },
  });
  return toMeshConfig(objects);
}

const serviceOf = (config: MeshConfig): ResolvedService => config.services[0]!;

async function saasDatabase(
  dialect: DialectName,
  config: MeshConfig,
  seed: { accounts: number; recordsPerAccount: number; accountWeight?: (i: number) => number },
): Promise<Database> {
  const test = await openTestDatabase(dialect);
  cleanups.push(test.cleanup);
  await createSaasSchema(test.database);
  await seedSaas(test.database, seed);
  const migrated = await migrateDatabase(test.database, config, { dryRun: false });
  expect(migrated.problems).toEqual([]);
  return test.database;
}

async function addAccounts(database: Database, ids: number[]): Promise<void> {
  await database.db
    .insertInto('account')
    .values(ids.map((id) => ({ id, name: `Account ${id}`, weight: 1 })))
    .execute();
}

async function setNode(database: Database, ids: number[], node: string | null): Promise<void> {
  await database.db
    .updateTable('account')
    .set({ [SAAS_NODE_COLUMN]: node })
    .where('id', 'in', ids)
    .execute();
}

async function stateRows(database: Database): Promise<{ key: string; value: string }[]> {
  // The moves token (src/db/entity-moves.ts) changes with every move: a random value, checked elsewhere;
  // the report counters' marks (src/db/record-counts.ts) are written by migrate.
  const rows = await database.db
    .selectFrom('workmesh_state')
    .select(['key', 'value'])
    .where('key', 'not like', 'moves:%')
    .where('key', 'not like', 'counts:%')
    .orderBy('key')
    .execute();
  return rows.map((r) => ({ key: String(r.key), value: String(r.value) }));
}

const DELIVERY_FLAG_COLUMNS = [
  'deliveries_push_time',
  'deliveries_push_success',
  'deliveries_push_error',
  'deliveries_push_attempts',
  'deliveries_push_node',
  'deliveries_pull_time',
  'deliveries_pull_success',
  'deliveries_pull_error',
];
const PROFILE_FLAG_COLUMNS = [
  'profiles_push_time',
  'profiles_push_success',
  'profiles_push_error',
  'profiles_push_attempts',
  'profiles_push_node',
];

/** Whether each record's flags are all clear, by record id: true when cleared (as new), false when any flag is set. */
async function clearedDeliveries(database: Database): Promise<Record<number, boolean>> {
  const rows = await database.db
    .selectFrom('delivery')
    .select(['id', ...DELIVERY_FLAG_COLUMNS])
    .orderBy('id')
    .execute();
  return Object.fromEntries(
    rows.map((r) => [Number(r.id), DELIVERY_FLAG_COLUMNS.every((c) => (c.endsWith('attempts') ? Number(r[c]) === 0 : r[c] === null))]),
  );
}

async function clearedProfiles(database: Database): Promise<Record<number, boolean>> {
  const rows = await database.db
    .selectFrom('account')
    .select(['id', ...PROFILE_FLAG_COLUMNS])
    .orderBy('id')
    .execute();
  return Object.fromEntries(
    rows.map((r) => [Number(r.id), PROFILE_FLAG_COLUMNS.every((c) => (c.endsWith('attempts') ? Number(r[c]) === 0 : r[c] === null))]),
  );
}

/** Every delivery and every profile processed: pushed (to its entity's node) and pulled. */
async function markAllProcessed(database: Database): Promise<void> {
  const at = new Date(Date.UTC(2024, 5, 1, 12));
  for (const node of ['node1', 'node2', 'node3']) {
    const accounts = (await database.db.selectFrom('account').select('id').where(SAAS_NODE_COLUMN, '=', node).execute()).map((r) =>
      Number(r.id),
    );
    if (accounts.length === 0) continue;
    const deliveries = (await database.db.selectFrom('delivery').select('id').where('id_account', 'in', accounts).execute()).map((r) =>
      Number(r.id),
    );
    await setRecordFlags(database, { table: 'delivery', protocol: 'deliveries' }, deliveries, {
      pushTime: at,
      pushSuccess: true,
      pushAttempts: 1,
      pushNode: node,
      pullTime: at,
      pullSuccess: true,
      pullError: null,
    });
    await setRecordFlags(database, { table: 'account', protocol: 'profiles' }, accounts, {
      pushTime: at,
      pushSuccess: true,
      pushAttempts: 2,
      pushError: 'earlier timeout',
      pushNode: node,
    });
  }
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`assigning entities on ${dialect.name}`, () => {
    it('round robin goes on from where the previous run stopped (workmesh_state)', async () => {
      const config = meshConfig(['node1', 'node2']);
      const database = await saasDatabase(dialect.name, config, { accounts: 5, recordsPerAccount: 1 });

      const first = await assignService(database.db, config, serviceOf(config));
      expect(first).toEqual({
        service: SAAS_SERVICE,
        assigned: 5,
        byNode: { node1: 3, node2: 2 },
        unassigned: 0,
        reasons: [],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2', 5: 'node1' });
      expect(await stateRows(database)).toEqual([{ key: 'roundrobin:micro.emails.timeline', value: 'node1' }]);

      // A later run with a configuration loaded anew: the rotation continues at node2.
      await addAccounts(database, [6, 7, 8]);
      const again = meshConfig(['node1', 'node2']);
      const second = await assignService(database.db, again, serviceOf(again));
      expect(second).toEqual({
        service: SAAS_SERVICE,
        assigned: 3,
        byNode: { node2: 2, node1: 1 },
        unassigned: 0,
        reasons: [],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({
        1: 'node1',
        2: 'node2',
        3: 'node1',
        4: 'node2',
        5: 'node1',
        6: 'node2',
        7: 'node1',
        8: 'node2',
      });
      expect(await stateRows(database)).toEqual([{ key: 'roundrobin:micro.emails.timeline', value: 'node2' }]);

      const idle = await assignService(database.db, again, serviceOf(again));
      expect(idle).toEqual({ service: SAAS_SERVICE, assigned: 0, byNode: {}, unassigned: 0, reasons: [], dryRun: false });
      expect(await stateRows(database)).toEqual([{ key: 'roundrobin:micro.emails.timeline', value: 'node2' }]);
    });

    it('entitynumber fills the node with the fewest entities, ties in config order', async () => {
      const config = meshConfig(['node1', 'node2'], 'entitynumber');
      const database = await saasDatabase(dialect.name, config, { accounts: 7, recordsPerAccount: 1 });
      await setNode(database, [1, 2, 3], 'node1');

      const result = await assignService(database.db, config, serviceOf(config));

      expect(result).toEqual({
        service: SAAS_SERVICE,
        assigned: 4,
        byNode: { node2: 3, node1: 1 },
        unassigned: 0,
        reasons: [],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({
        1: 'node1',
        2: 'node1',
        3: 'node1',
        4: 'node2',
        5: 'node2',
        6: 'node2',
        7: 'node1',
      });
      expect(await stateRows(database)).toEqual([]);
    });

    it('entityweight fills the node with the least total weight', async () => {
      const weights = [10, 3, 3, 2, 2, 1];
      const config = meshConfig(['node1', 'node2'], 'entityweight');
      const database = await saasDatabase(dialect.name, config, {
        accounts: 6,
        recordsPerAccount: 1,
        accountWeight: (i) => weights[i - 1]!,
      });

      const result = await assignService(database.db, config, serviceOf(config));

      expect(result).toEqual({
        service: SAAS_SERVICE,
        assigned: 6,
        byNode: { node1: 2, node2: 4 },
        unassigned: 0,
        reasons: [],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node2', 4: 'node2', 5: 'node2', 6: 'node1' });
    });

    it('leaves entities beyond maxEntities unassigned, with the reason', async () => {
      const config = meshConfig([
        { name: 'node1', maxEntities: 2 },
        { name: 'node2', maxEntities: 1 },
      ]);
      const database = await saasDatabase(dialect.name, config, { accounts: 5, recordsPerAccount: 1 });

      const result = await assignService(database.db, config, serviceOf(config));

      expect(result).toEqual({
        service: SAAS_SERVICE,
        assigned: 3,
        byNode: { node1: 2, node2: 1 },
        unassigned: 2,
        reasons: ['no node has room for weight 1: node1 at maxEntities 2, node2 at maxEntities 1'],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: null, 5: null });

      const again = await assignService(database.db, config, serviceOf(config));
      expect(again.assigned).toBe(0);
      expect(again.unassigned).toBe(2);
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: null, 5: null });
    });

    it('leaves entities beyond maxWeight unassigned, with the reason', async () => {
      const config = meshConfig(
        [
          { name: 'node1', maxWeight: 6 },
          { name: 'node2', maxWeight: 6 },
        ],
        'entityweight',
      );
      const database = await saasDatabase(dialect.name, config, { accounts: 3, recordsPerAccount: 1, accountWeight: () => 5 });

      const result = await assignService(database.db, config, serviceOf(config));

      expect(result).toEqual({
        service: SAAS_SERVICE,
        assigned: 2,
        byNode: { node1: 1, node2: 1 },
        unassigned: 1,
        reasons: ['no node has room for weight 5: node1 at weight 5 of maxWeight 6, node2 at weight 5 of maxWeight 6'],
        dryRun: false,
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: null });
    });

    it('reassigns one entity and keeps its flags without repush', async () => {
      const config = meshConfig(['node1', 'node2', 'node3']);
      const database = await saasDatabase(dialect.name, config, { accounts: 3, recordsPerAccount: 2 });
      await assignService(database.db, config, serviceOf(config));
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node3' });
      await markAllProcessed(database);

      const moved = await reassignEntity(database.db, config, serviceOf(config), '1', { to: 'node3', repush: false });
      expect(moved).toEqual({ service: SAAS_SERVICE, entity: 1, from: 'node1', to: 'node3', repushed: false, dryRun: false });
      expect(await readAssignments(database)).toEqual({ 1: 'node3', 2: 'node2', 3: 'node3' });

      // Without --to, round robin picks the node after the last one used (node3), skipping the current one.
      const picked = await reassignEntity(database.db, config, serviceOf(config), '2', { repush: false });
      expect(picked).toEqual({ service: SAAS_SERVICE, entity: 2, from: 'node2', to: 'node1', repushed: false, dryRun: false });
      expect(await readAssignments(database)).toEqual({ 1: 'node3', 2: 'node1', 3: 'node3' });
      expect(await stateRows(database)).toEqual([{ key: 'roundrobin:micro.emails.timeline', value: 'node1' }]);

      expect(await clearedDeliveries(database)).toEqual({ 1: false, 2: false, 3: false, 4: false, 5: false, 6: false });
      expect(await clearedProfiles(database)).toEqual({ 1: false, 2: false, 3: false });

      await expect(reassignEntity(database.db, config, serviceOf(config), '2', { to: 'node1', repush: false })).rejects.toThrow(
        new MoveRefused('service micro.emails.timeline, entity 2: entity 2 is already on node1'),
      );
      await expect(reassignEntity(database.db, config, serviceOf(config), '2', { to: 'node9', repush: false })).rejects.toThrow(
        new MoveRefused('unknown node "node9"; nodes.config.ts declares: node1, node2, node3'),
      );
      await expect(reassignEntity(database.db, config, serviceOf(config), '42', { repush: false })).rejects.toThrow(
        'service micro.emails.timeline: no entity 42 in table account',
      );
      expect(await readAssignments(database)).toEqual({ 1: 'node3', 2: 'node1', 3: 'node3' });
    });

    it('with repush clears the push and pull flags of that entity only, in every protocol', async () => {
      const config = meshConfig(['node1', 'node2']);
      const database = await saasDatabase(dialect.name, config, { accounts: 3, recordsPerAccount: 2 });
      await assignService(database.db, config, serviceOf(config));
      await markAllProcessed(database);

      const moved = await reassignEntity(database.db, config, serviceOf(config), '1', { to: 'node2', repush: true });

      expect(moved).toEqual({
        service: SAAS_SERVICE,
        entity: 1,
        from: 'node1',
        to: 'node2',
        repushed: true,
        dryRun: false,
        repushRecords: expect.any(Object),
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node1' });
      // Account 1's deliveries are 1 and 4.
      expect(await clearedDeliveries(database)).toEqual({ 1: true, 2: false, 3: false, 4: true, 5: false, 6: false });
      expect(await clearedProfiles(database)).toEqual({ 1: true, 2: false, 3: false });
      const untouched = await database.db
        .selectFrom('delivery')
        .select(['deliveries_push_attempts', 'deliveries_pull_success'])
        .where('id', '=', 2)
        .executeTakeFirstOrThrow();
      expect(Number(untouched.deliveries_push_attempts)).toBe(1);
      expect(Boolean(untouched.deliveries_pull_success)).toBe(true);
    });

    it('drains a node onto the others by the criterion', async () => {
      const config = meshConfig(['node1', 'node2', 'node3']);
      const database = await saasDatabase(dialect.name, config, { accounts: 6, recordsPerAccount: 1 });
      await assignService(database.db, config, serviceOf(config));
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node3', 4: 'node1', 5: 'node2', 6: 'node3' });
      await markAllProcessed(database);

      const result = await drainNode(database.db, config, 'node1', { repush: true });

      expect(result).toEqual({
        node: 'node1',
        dryRun: false,
        services: [
          { service: SAAS_SERVICE, moved: 2, byNode: { node2: 1, node3: 1 }, stayed: 0, reasons: [], repushRecords: expect.any(Object) },
        ],
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node3', 4: 'node3', 5: 'node2', 6: 'node3' });
      expect(await stateRows(database)).toEqual([{ key: 'roundrobin:micro.emails.timeline', value: 'node3' }]);
      expect(await clearedDeliveries(database)).toEqual({ 1: true, 2: false, 3: false, 4: true, 5: false, 6: false });
      expect(await clearedProfiles(database)).toEqual({ 1: true, 2: false, 3: false, 4: true, 5: false, 6: false });

      expect(await drainNode(database.db, config, 'node1', { repush: false })).toEqual({ node: 'node1', dryRun: false, services: [] });
    });

    it('drain leaves the entities no other node has room for', async () => {
      const config = meshConfig(['node1', { name: 'node2', maxEntities: 3 }]);
      const database = await saasDatabase(dialect.name, config, { accounts: 4, recordsPerAccount: 1 });
      await assignService(database.db, config, serviceOf(config));
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2' });

      const result = await drainNode(database.db, config, 'node1', { service: SAAS_SERVICE, repush: false });

      expect(result).toEqual({
        node: 'node1',
        dryRun: false,
        services: [
          {
            service: SAAS_SERVICE,
            moved: 1,
            byNode: { node2: 1 },
            stayed: 1,
            reasons: ['no node has room for weight 1: node2 at maxEntities 3'],
          },
        ],
      });
      expect(await readAssignments(database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node1', 4: 'node2' });
    });

    it('rebalances onto an added node with the fewest moves; a dry run writes nothing', async () => {
      const two = meshConfig(['node1', 'node2']);
      const database = await saasDatabase(dialect.name, two, { accounts: 6, recordsPerAccount: 2 });
      await assignService(database.db, two, serviceOf(two));
      const before = { 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2', 5: 'node1', 6: 'node2' };
      expect(await readAssignments(database)).toEqual(before);
      await markAllProcessed(database);

      const three = meshConfig(['node1', 'node2', 'node3']);
      const expectedMoves = [
        { id: 5, from: 'node1', to: 'node3' },
        { id: 6, from: 'node2', to: 'node3' },
      ];
      const dry = await rebalanceService(database.db, three, serviceOf(three), { dryRun: true });
      expect(dry).toEqual({ service: SAAS_SERVICE, moves: expectedMoves, stuck: 0, dryRun: true });
      expect(await readAssignments(database)).toEqual(before);

      const done = await rebalanceService(database.db, three, serviceOf(three), { dryRun: false });
      expect(done).toEqual({ service: SAAS_SERVICE, moves: expectedMoves, stuck: 0, dryRun: false });
      expect(await readAssignments(database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2', 5: 'node3', 6: 'node3' });
      // Rebalancing moves entities, never their records' flags.
      expect(Object.values(await clearedDeliveries(database))).toEqual(Array(12).fill(false));

      const balanced = await rebalanceService(database.db, three, serviceOf(three), { dryRun: false });
      expect(balanced.moves).toEqual([]);
    });
  });
}
