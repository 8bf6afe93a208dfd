import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate-config.js';

const nodes = [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'key-1', services: { svc: {} } }];
const service = (extra: Record<string, unknown>) => [
  {
    name: 'svc',
    entity: { table: 'account', id: 'id', node: 'node_for_svc' },
    protocols: [
      { name: 'deliveries', table: 'delivery', id: 'id', sort: 'create_time', entityRef: 'id_account', push: { path: '/push.json' } },
    ],
    ...extra,
  },
];

describe("a service's failover", () => {
  it('is off when left out, and kept as given when valid', () => {
    const off = validateConfig(nodes, service({}));
    expect(off.ok && off.config.services[0]!.failover).toBeUndefined();
    const on = validateConfig(nodes, service({ failover: { afterMs: 600_000 } }));
    expect(on.ok && on.config.services[0]!.failover).toEqual({ afterMs: 600_000 });
  });

  it('needs afterMs, a whole number of milliseconds, and nothing else', () => {
    const problems = (failover: unknown) => {
      const result = validateConfig(nodes, service({ failover }));
      return result.ok ? [] : result.problems;
    };
    expect(problems(true)).toEqual([{ path: 'services[0].failover', message: 'must be an object' }]);
    expect(problems({})).toEqual([{ path: 'services[0].failover.afterMs', message: 'required' }]);
    expect(problems({ afterMs: 0 })).toEqual([
      { path: 'services[0].failover.afterMs', message: 'must be an integer from 1 to 2147483647' },
    ]);
    expect(problems({ afterMs: '10m' })).toEqual([
      { path: 'services[0].failover.afterMs', message: 'must be an integer from 1 to 2147483647' },
    ]);
    expect(problems({ afterMs: 1_000, after: 5 })).toEqual([
      { path: 'services[0].failover.after', message: 'unknown key (expected one of: afterMs)' },
    ]);
  });
});
