import { describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../src/config/config-problem.js';
import { validateConfig } from '../../src/config/validate-config.js';

/** A valid pair of configs, as plain data, to break one key at a time. */
// The objects are changed freely by each test, as a user's config file would be: any is the point here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function valid(): { nodes: Record<string, any>[]; services: Record<string, any>[] } {
  return {
    nodes: [
      {
        name: 'node1',
        url: 'http://127.0.0.1:3001',
        apiKey: 'key-1',
        services: { 'micro.emails.timeline': { maxEntities: 5000, maxWeight: 500 } },
      },
      {
        name: 'node2',
        url: 'https://node2.example.com',
        apiKey: 'key-2',
        services: { 'micro.emails.timeline': {} },
        ssh: { host: '203.0.113.5', username: 'root', privateKeyPath: '~/.ssh/id_ed25519' },
        deploy: ['systemctl restart {service}'],
      },
    ],
    services: [
      {
        name: 'micro.emails.timeline',
        entity: { table: 'account', id: 'id', node: 'node_for_timeline' },
        protocols: [
          {
            name: 'deliveries',
            table: 'delivery',
            id: 'id',
            sort: 'create_time',
            entityRef: 'id_account',
            push: { path: '/api/1.0/delivery/push.json' },
          },
        ],
      },
    ],
  };
}

function problems(nodes: unknown, services: unknown): ConfigProblem[] {
  const result = validateConfig(nodes, services);
  if (result.ok) throw new Error('expected the configuration to be invalid');
  return result.problems;
}

/** The problems of `valid()` after `change`. */
function problemsAfter(change: (config: ReturnType<typeof valid>) => void): ConfigProblem[] {
  const config = valid();
  change(config);
  return problems(config.nodes, config.services);
}

const IDENTIFIER_HINT = '(^[A-Za-z_][A-Za-z0-9_]*$)';

describe('validateConfig on a valid configuration', () => {
  it('fills in every default', () => {
    const { nodes, services } = valid();
    const result = validateConfig(nodes, services);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const service = result.config.services[0]!;
    expect(service.assign).toBe('roundrobin');
    const protocol = service.protocols[0]!;
    expect(protocol.batchSize).toBe(500);
    expect(protocol.maxAttempts).toBe(10);
    expect(protocol.flags).toEqual({
      pushTime: 'deliveries_push_time',
      pushSuccess: 'deliveries_push_success',
      pushError: 'deliveries_push_error',
      pushAttempts: 'deliveries_push_attempts',
      pushNode: 'deliveries_push_node',
      pullTime: 'deliveries_pull_time',
      pullSuccess: 'deliveries_pull_success',
      pullError: 'deliveries_pull_error',
    });
    expect(protocol.push).toEqual({ path: '/api/1.0/delivery/push.json' });
    expect(result.config.nodes.map((n) => n.name)).toEqual(['node1', 'node2']);
  });

  it('keeps what was given and fills in only the rest', () => {
    const config = valid();
    const service = config.services[0]!;
    service.assign = 'entityweight';
    service.entity.weight = (row: Record<string, unknown>) => Number(row.size);
    Object.assign(service.protocols[0]!, {
      batchSize: 50,
      maxAttempts: 3,
      settleMs: 5000,
      flags: { pushTime: 'delivery_pushed_at', pullError: 'delivery_pull_error_description' },
      pull: { statusPath: '/status.json', path: '/pull.json', columns: { hash: 'result_hash' } },
    });
    // A protocol on the entity table itself needs no entityRef.
    service.protocols.push({ name: 'accounts', table: 'account', id: 'id', sort: 'id', push: { fn: async () => {} } });
    const result = validateConfig(config.nodes, config.services);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const [deliveries, accounts] = result.config.services[0]!.protocols;
    expect(result.config.services[0]!.assign).toBe('entityweight');
    expect(deliveries!.batchSize).toBe(50);
    expect(deliveries!.maxAttempts).toBe(3);
    expect(deliveries!.flags.pushTime).toBe('delivery_pushed_at');
    expect(deliveries!.flags.pullError).toBe('delivery_pull_error_description');
    expect(deliveries!.flags.pushSuccess).toBe('deliveries_push_success');
    expect(accounts!.flags.pullTime).toBe('accounts_pull_time');
  });
});

describe('validateConfig reports', () => {
  it('every problem at once, each with its path', () => {
    expect(
      problemsAfter((c) => {
        const protocol = c.services[0]!.protocols[0]!;
        c.services[0]!.protocols.push({ ...protocol, name: 'results' });
        delete c.services[0]!.protocols[1]!.sort;
        c.services[0]!.assign = 'random';
        c.nodes[0]!.url = 'ftp://127.0.0.1';
        c.nodes[1]!.timeoutMs = 0;
      }),
    ).toEqual([
      { path: 'services[0].assign', message: 'must be one of roundrobin, entitynumber, entityweight' },
      { path: 'services[0].protocols[1].sort', message: 'required' },
      { path: 'nodes[0].url', message: 'must be http or https (got ftp)' },
      { path: 'nodes[1].timeoutMs', message: 'must be an integer from 1 to 2147483647' },
    ]);
  });

  it('a node running a service that is not declared', () => {
    expect(problemsAfter((c) => (c.nodes[1]!.services = { 'micro.emails.timelime': {} }))).toEqual([
      {
        path: 'nodes[1].services["micro.emails.timelime"]',
        message: 'service "micro.emails.timelime" is not declared in services.config.ts',
      },
    ]);
  });

  it('entityweight without entity.weight', () => {
    expect(problemsAfter((c) => (c.services[0]!.assign = 'entityweight'))).toEqual([
      { path: 'services[0].entity.weight', message: 'required when assign is "entityweight"' },
    ]);
  });

  it('duplicate node, service and protocol names', () => {
    expect(problemsAfter((c) => (c.nodes[1]!.name = 'node1'))).toEqual([
      { path: 'nodes[1].name', message: '"node1" is used by another node' },
    ]);
    const sms = { name: 'sms', table: 'sms', id: 'id', sort: 'id', entityRef: 'id_account', push: { path: '/sms' } };
    expect(problemsAfter((c) => c.services.push({ ...c.services[0]!, protocols: [sms] }))).toEqual([
      { path: 'services[1].name', message: '"micro.emails.timeline" is used by another service' },
    ]);
    expect(
      problemsAfter((c) => {
        const protocol = c.services[0]!.protocols[0]!;
        c.services[0]!.protocols.push({ ...protocol, flags: { pushTime: 'other_push_time' } });
      }),
    ).toEqual([{ path: 'services[0].protocols[1].name', message: '"deliveries" is used by another protocol of this service' }]);
  });

  it('a duplicate protocol name even when that protocol has other problems', () => {
    expect(
      problemsAfter((c) => {
        const protocol = c.services[0]!.protocols[0]!;
        c.services[0]!.protocols.push({ ...protocol, id: 'id-x' });
      }),
    ).toEqual([
      { path: 'services[0].protocols[1].id', message: `"id-x" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].protocols[1].name', message: '"deliveries" is used by another protocol of this service' },
    ]);
  });

  it('table and column names that are not SQL identifiers', () => {
    expect(
      problemsAfter((c) => {
        c.services[0]!.entity.table = 'account; drop table x';
        c.services[0]!.entity.node = '1node';
        const protocol = c.services[0]!.protocols[0]!;
        protocol.sort = 'create time';
        protocol.entityRef = 'id-account';
        protocol.flags = { pushTime: 'push.time' };
        protocol.pull = { statusPath: '/s', path: '/p', columns: { hash: 'hash`' } };
      }),
    ).toEqual([
      { path: 'services[0].entity.table', message: `"account; drop table x" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].entity.node', message: `"1node" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].protocols[0].sort', message: `"create time" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].protocols[0].entityRef', message: `"id-account" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].protocols[0].pull.columns.hash', message: `"hash\`" is not an SQL identifier ${IDENTIFIER_HINT}` },
      { path: 'services[0].protocols[0].flags.pushTime', message: `"push.time" is not an SQL identifier ${IDENTIFIER_HINT}` },
    ]);
  });

  it('accepts identifiers with underscores and digits after the first character', () => {
    const config = valid();
    Object.assign(config.services[0]!.entity, { table: '_Account2', node: 'node_for_2' });
    expect(validateConfig(config.nodes, config.services).ok).toBe(true);
  });

  it('a protocol name whose default flag columns would not be identifiers', () => {
    const found = problemsAfter((c) => (c.services[0]!.protocols[0]!.name = 'delivery-v2'));
    expect(found).toHaveLength(8);
    expect(found[0]).toEqual({
      path: 'services[0].protocols[0].flags.pushTime',
      message: 'default column "delivery-v2_push_time" is not an SQL identifier; name it in flags.pushTime',
    });
  });

  it('push with both path and fn, or neither', () => {
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.push = { path: '/push', fn: async () => {} }))).toEqual([
      { path: 'services[0].protocols[0].push', message: 'set path or fn, not both' },
    ]);
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.push = {}))).toEqual([
      { path: 'services[0].protocols[0].push', message: 'set path or fn' },
    ]);
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.push = { path: 'push.json' }))).toEqual([
      { path: 'services[0].protocols[0].push.path', message: 'must start with "/" (got "push.json")' },
    ]);
  });

  it('pull with both columns and fn', () => {
    expect(
      problemsAfter((c) => (c.services[0]!.protocols[0]!.pull = { statusPath: '/s', path: '/p', columns: {}, fn: async () => {} })),
    ).toEqual([{ path: 'services[0].protocols[0].pull', message: 'set columns or fn, not both' }]);
  });

  it('a missing apiKey, with a hint about the environment', () => {
    expect(problemsAfter((c) => (c.nodes[0]!.apiKey = process.env.WORKMESH_TEST_SURELY_UNSET_KEY))).toEqual([
      { path: 'nodes[0].apiKey', message: 'required (is its environment variable set?)' },
    ]);
  });

  it('ssh with both a key and a password, or neither, or an unset password', () => {
    expect(problemsAfter((c) => (c.nodes[1]!.ssh.password = 'secret'))).toEqual([
      { path: 'nodes[1].ssh', message: 'set privateKeyPath or password, not both' },
    ]);
    expect(problemsAfter((c) => delete c.nodes[1]!.ssh.privateKeyPath)).toEqual([
      { path: 'nodes[1].ssh', message: 'set privateKeyPath or password' },
    ]);
    expect(
      problemsAfter((c) => {
        delete c.nodes[1]!.ssh.privateKeyPath;
        c.nodes[1]!.ssh.password = undefined;
      }),
    ).toEqual([{ path: 'nodes[1].ssh.password', message: 'required (is its environment variable set?)' }]);
  });

  it('unknown keys, naming the ones allowed', () => {
    expect(
      problemsAfter((c) => {
        c.nodes[0]!.apikey = 'typo';
        c.services[0]!.protocols[0]!.sortBy = 'create_time';
        c.nodes[0]!.services['micro.emails.timeline'].maxEntity = 3;
      }),
    ).toEqual([
      {
        path: 'services[0].protocols[0].sortBy',
        message: 'unknown key (expected one of: name, table, id, sort, entityRef, batchSize, push, pull, flags, maxAttempts, settleMs)',
      },
      {
        path: 'nodes[0].apikey',
        message: 'unknown key (expected one of: name, url, apiKey, services, timeoutMs, tls, ssh, deploy, maxAnswerBytes)',
      },
      { path: 'nodes[0].services["micro.emails.timeline"].maxEntity', message: 'unknown key (expected one of: maxEntities, maxWeight)' },
    ]);
  });

  it('a flag column that collides with another column of the protocol', () => {
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.flags = { pushTime: 'id' }))).toEqual([
      { path: 'services[0].protocols[0].flags.pushTime', message: 'column "id" is already used by id' },
    ]);
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.flags = { pushTime: 'pushed', pullTime: 'pushed' }))).toEqual([
      { path: 'services[0].protocols[0].flags.pullTime', message: 'column "pushed" is already used by flags.pushTime' },
    ]);
  });

  it('a flag column of the entity table that collides with the entity node column', () => {
    expect(
      problemsAfter((c) =>
        c.services[0]!.protocols.push({
          name: 'accounts',
          table: 'account',
          id: 'id',
          sort: 'id',
          push: { path: '/a' },
          flags: { pushTime: 'node_for_timeline' },
        }),
      ),
    ).toEqual([{ path: 'services[0].protocols[1].flags.pushTime', message: 'column "node_for_timeline" is already used by entity.node' }]);
  });

  it('two protocols that would share the flag columns of one table', () => {
    expect(
      problemsAfter((c) => {
        const protocol = c.services[0]!.protocols[0]!;
        c.services.push({
          ...c.services[0]!,
          name: 'micro.sms',
          entity: { ...c.services[0]!.entity, node: 'node_for_sms' },
          protocols: [{ ...protocol }, { ...protocol, name: 'other', flags: { pushTime: 'deliveries_push_time' } }],
        });
      }),
    ).toEqual([
      {
        path: 'services[1].protocols[0].flags',
        message:
          'columns deliveries_push_time, deliveries_push_success, deliveries_push_error, deliveries_push_attempts, deliveries_push_node, deliveries_pull_time, ' +
          'deliveries_pull_success, deliveries_pull_error of table "delivery" already hold the flags of services[0].protocols[0]; ' +
          'rename this protocol or name its flags',
      },
      {
        path: 'services[1].protocols[1].flags',
        message:
          'column deliveries_push_time of table "delivery" already holds the flags of services[0].protocols[0]; rename this protocol or name its flags',
      },
    ]);
  });

  it('a protocol on another table without entityRef', () => {
    expect(problemsAfter((c) => delete c.services[0]!.protocols[0]!.entityRef)).toEqual([
      { path: 'services[0].protocols[0].entityRef', message: 'required: table "delivery" is not the entity table "account"' },
    ]);
  });

  it('numbers out of range and wrong shapes', () => {
    expect(
      problemsAfter((c) => {
        c.services[0]!.protocols[0]!.batchSize = 0;
        c.services[0]!.protocols[0]!.maxAttempts = 1.5;
        c.nodes[0]!.services['micro.emails.timeline'].maxEntities = -1;
        c.nodes[1]!.ssh.port = 70000;
        c.nodes[1]!.deploy = ['ok', ''];
      }),
    ).toEqual([
      { path: 'services[0].protocols[0].batchSize', message: 'must be an integer from 1 to 10000' },
      { path: 'services[0].protocols[0].maxAttempts', message: 'must be an integer >= 1' },
      { path: 'nodes[0].services["micro.emails.timeline"].maxEntities', message: 'must be an integer >= 0' },
      { path: 'nodes[1].ssh.port', message: 'must be an integer from 1 to 65535' },
      { path: 'nodes[1].deploy[1]', message: 'must be a non-empty command string' },
    ]);
    expect(problems({ name: 'node1' }, undefined)).toEqual([
      { path: 'services', message: 'required' },
      { path: 'nodes', message: 'must be an array' },
    ]);
  });

  it('a node maxAnswerBytes that is not a positive integer up to 256 MB', () => {
    for (const bad of [0, 1.5, 256 * 1024 * 1024 + 1, '4MB']) {
      expect(problemsAfter((c) => (c.nodes[0]!.maxAnswerBytes = bad))).toEqual([
        { path: 'nodes[0].maxAnswerBytes', message: 'must be an integer from 1 to 268435456' },
      ]);
    }
    const config = valid();
    config.nodes[0]!.maxAnswerBytes = 128 * 1024 * 1024;
    expect(validateConfig(config.nodes, config.services).ok).toBe(true);
  });
});
