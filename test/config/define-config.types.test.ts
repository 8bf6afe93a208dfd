/**
 * Compile-time checks of the config helpers: each `@ts-expect-error` must
 * meet a type error on the next line, or `tsc --noEmit` (run by `npm test`)
 * fails with "Unused '@ts-expect-error' directive". Vitest only sees the
 * runtime test at the end.
 */
import { describe, expect, it } from 'vitest';
import { defineNodes, defineServices } from '../../src/config/define-config.js';

const entity = { table: 'account', id: 'id', node: 'node_for_timeline' };
const base = { name: 'deliveries', table: 'delivery', id: 'id', sort: 'create_time', entityRef: 'id_account' };
const node = { name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'key', services: {} };

/** Never called: only the compiler reads it. */
export function wrongConfigurations(): void {
  defineNodes([
    {
      ...node,
      // @ts-expect-error unknown key (a typo of timeoutMs)
      timeout: 5_000,
    },
  ]);

  defineNodes([
    {
      ...node,
      // @ts-expect-error a capacity must be a number
      services: { 'micro.emails.timeline': { maxEntities: '5000' } },
    },
  ]);

  defineNodes([
    {
      ...node,
      // @ts-expect-error ssh with both a password and a key
      ssh: { host: 'h', username: 'root', password: 'secret', privateKeyPath: '~/.ssh/id_ed25519' },
    },
  ]);

  defineNodes([
    {
      ...node,
      // @ts-expect-error ssh with neither a password nor a key
      ssh: { host: 'h', username: 'root' },
    },
  ]);

  defineServices([
    {
      name: 's',
      entity,
      // @ts-expect-error not one of the three criteria
      assign: 'random',
      protocols: [{ ...base, push: { path: '/push' } }],
    },
  ]);

  defineServices([
    {
      name: 's',
      entity,
      // @ts-expect-error push with both path and fn
      protocols: [{ ...base, push: { path: '/push', fn: async () => {} } }],
    },
  ]);

  defineServices([
    {
      name: 's',
      entity,
      protocols: [
        {
          ...base,
          push: { path: '/push' },
          // @ts-expect-error pull with both columns and fn
          pull: { statusPath: '/status', path: '/pull', columns: { hash: 'result_hash' }, fn: async () => {} },
        },
      ],
    },
  ]);

  defineServices([
    {
      name: 's',
      entity,
      protocols: [
        {
          ...base,
          push: { path: '/push' },
          // @ts-expect-error unknown flag name
          flags: { pushedAt: 'pushed_at' },
        },
      ],
    },
  ]);

  defineServices([
    {
      name: 's',
      // @ts-expect-error the entity needs the column holding its node
      entity: { table: 'account', id: 'id' },
      protocols: [{ ...base, push: { path: '/push' } }],
    },
  ]);
}

/** Never called: the right forms of the same keys compile. */
export function rightConfigurations(): void {
  defineNodes([
    {
      ...node,
      timeoutMs: 5_000,
      services: { 'micro.emails.timeline': { maxEntities: 5000, maxWeight: 500 } },
      ssh: { host: 'h', username: 'root', password: process.env.NODE1_SSH_PASSWORD },
    },
    { ...node, name: 'node2', ssh: { host: 'h', username: 'root', privateKeyPath: '~/.ssh/id_ed25519', hostKey: 'SHA256:x' } },
  ]);
  defineServices([
    {
      name: 's',
      entity: { ...entity, weight: (row) => Number(row.size) },
      assign: 'entityweight',
      protocols: [
        { ...base, push: { fn: async (records, target, ctx) => void [records.length, target.url, ctx.protocol] } },
        {
          ...base,
          name: 'results',
          push: { path: '/push' },
          pull: { statusPath: '/status', path: '/pull', fn: async (records, results) => void [records, results] },
          flags: { pushTime: 'results_pushed_at' },
        },
      ],
    },
  ]);
}

describe('defineNodes / defineServices types', () => {
  it('are identity functions; the type errors above are checked by tsc', () => {
    const nodes = [node];
    expect(defineNodes(nodes)).toBe(nodes);
    const services = [{ name: 's', entity, protocols: [{ ...base, push: { path: '/push' } }] }];
    expect(defineServices(services)).toBe(services);
  });
});
