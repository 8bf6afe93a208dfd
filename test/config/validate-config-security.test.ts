import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem } from '../../src/config/config-problem.js';
import { maskUrlPassword } from '../../src/config/mask-url-password.js';
import { validateConfig, type ValidateOptions } from '../../src/config/validate-config.js';

/** A valid pair of configs, as plain data, to break one key at a time. */
// The objects are changed freely by each test, as a user's config file would be: any is the point here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function valid(): { nodes: Record<string, any>[]; services: Record<string, any>[] } {
  return {
    nodes: [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'key-1', services: { 'micro.emails.timeline': {} } }],
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
            push: { path: '/push' },
            pull: { statusPath: '/status', path: '/pull', columns: { hash: 'result_hash' } },
          },
        ],
      },
    ],
  };
}

function problemsAfter(change: (config: ReturnType<typeof valid>) => void, options?: ValidateOptions): ConfigProblem[] {
  const config = valid();
  change(config);
  const result = validateConfig(config.nodes, config.services, options);
  if (result.ok) throw new Error('expected the configuration to be invalid');
  return result.problems;
}

const INJECTION = 'x;echo INJECTED-$(id -u)>pwned;#';

describe('validateConfig: names safe in a shell and a path', () => {
  it('accepts letters, digits, ".", "_" and "-" inside a name', () => {
    const config = valid();
    config.nodes[0]!.name = 'web-1.eu_west';
    expect(validateConfig(config.nodes, config.services).ok).toBe(true);
  });

  it.each(['-rf', '..', '.', 'a;b', 'a b', '$(id)', 'a/b', '`id`', "a'b", 'node\n1'])('refuses the node name %j, with its path', (name) => {
    const problems = problemsAfter((c) => (c.nodes[0]!.name = name));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('nodes[0].name');
    expect(problems[0]!.message).toMatch(/letters, digits/);
  });

  it('refuses the injecting service name, at load, with its path (and the node naming it is not blamed again)', () => {
    const problems = problemsAfter((c) => {
      c.services[0]!.name = INJECTION;
      c.nodes[0]!.services = { [INJECTION]: {} };
    });
    expect(problems).toEqual([
      {
        path: 'services[0].name',
        message: `"${INJECTION}" may hold only letters, digits, ".", "_" and "-", not starting with "-", and not "." or ".."`,
      },
    ]);
  });

  it.each(['-x', '..', 'a b', 'a|b'])('refuses the service name %j', (name) => {
    const problems = problemsAfter((c) => {
      c.services[0]!.name = name;
      c.nodes[0]!.services = { [name]: {} };
    });
    expect(problems.map((p) => p.path)).toEqual(['services[0].name']);
  });
});

describe('validateConfig: columns the engine writes have one owner', () => {
  it.each([
    ['id', 'the id column'],
    ['id_account', 'the entityRef column'],
    ['create_time', 'the sort column'],
    ['deliveries_push_success', 'the pushSuccess flag of protocol "deliveries"'],
  ])('a pull.columns target on %s', (column, owner) => {
    const problems = problemsAfter((c) => (c.services[0]!.protocols[0]!.pull.columns = { hash: 'result_hash', acct: column }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('services[0].protocols[0].pull.columns.acct');
    expect(problems[0]!.message).toContain(`column "${column}" of table "delivery" is ${owner}`);
  });

  it('a pull.columns target on the entity node column, when the records are the entity table', () => {
    const problems = problemsAfter((c) => {
      const protocol = c.services[0]!.protocols[0]!;
      protocol.table = 'account';
      delete protocol.entityRef;
      protocol.pull.columns = { node: 'node_for_timeline' };
    });
    expect(problems).toEqual([
      {
        path: 'services[0].protocols[0].pull.columns.node',
        message:
          'column "node_for_timeline" of table "account" is the node column of service "micro.emails.timeline" (services[0].entity.node); ' +
          "a node's result must not overwrite it",
      },
    ]);
  });

  it('a pull.columns target on a flag column of another service on the same table', () => {
    const problems = problemsAfter((c) => {
      const other = structuredClone(c.services[0]!);
      other.name = 'micro.sms';
      other.entity.node = 'node_for_sms';
      other.protocols[0].name = 'texts';
      delete other.protocols[0].pull;
      c.services.push(other);
      c.services[0]!.protocols[0]!.pull.columns = { t: 'texts_push_time' };
    });
    expect(problems.map((p) => [p.path, p.message.split(';')[0]])).toEqual([
      [
        'services[0].protocols[0].pull.columns.t',
        'column "texts_push_time" of table "delivery" is the pushTime flag of protocol "texts" (services[1].protocols[0].flags.pushTime)',
      ],
    ]);
  });

  it('two result fields into one column', () => {
    expect(problemsAfter((c) => (c.services[0]!.protocols[0]!.pull.columns = { hash: 'result_hash', digest: 'result_hash' }))).toEqual([
      {
        path: 'services[0].protocols[0].pull.columns.digest',
        message: 'column "result_hash" also receives result field "hash"; each field needs a column of its own',
      },
    ]);
  });

  it('two services sharing a node column of one entity table; another table is fine', () => {
    const twoServices = (c: ReturnType<typeof valid>, table: string): void => {
      const other = structuredClone(c.services[0]!);
      other.name = 'micro.sms';
      other.entity.table = table;
      other.protocols[0].flags = {
        pushTime: 'sms_push_time',
        pushSuccess: 'sms_push_success',
        pushError: 'sms_push_error',
        pushAttempts: 'sms_push_attempts',
        pushNode: 'sms_push_node',
        pullTime: 'sms_pull_time',
        pullSuccess: 'sms_pull_success',
        pullError: 'sms_pull_error',
      };
      c.services.push(other);
    };
    expect(problemsAfter((c) => twoServices(c, 'account'))).toEqual([
      {
        path: 'services[1].entity.node',
        message:
          'column "node_for_timeline" of table "account" is already the node column of service "micro.emails.timeline" (services[0].entity.node)',
      },
    ]);
    const config = valid();
    twoServices(config, 'customer');
    expect(validateConfig(config.nodes, config.services).ok).toBe(true);
  });
});

describe('validateConfig: milliseconds Node timers can hold', () => {
  it('refuses timeoutMs, connectTimeoutMs and settleMs past 2^31-1, accepts 2^31-1', () => {
    const problems = problemsAfter((c) => {
      c.nodes[0]!.timeoutMs = 3_000_000_000;
      c.nodes[0]!.ssh = { host: 'h', username: 'u', password: 'pw', connectTimeoutMs: 2 ** 31 };
      c.services[0]!.protocols[0]!.settleMs = 1e20;
    });
    expect(problems).toEqual([
      { path: 'services[0].protocols[0].settleMs', message: 'must be an integer from 0 to 2147483647' },
      { path: 'nodes[0].timeoutMs', message: 'must be an integer from 1 to 2147483647' },
      { path: 'nodes[0].ssh.connectTimeoutMs', message: 'must be an integer from 1 to 2147483647' },
    ]);
    const config = valid();
    config.nodes[0]!.timeoutMs = 2 ** 31 - 1;
    config.services[0]!.protocols[0]!.settleMs = 2 ** 31 - 1;
    expect(validateConfig(config.nodes, config.services).ok).toBe(true);
  });
});

describe('URL passwords never shown', () => {
  it('masks the password of a malformed node URL', () => {
    const problems = problemsAfter((c) => (c.nodes[0]!.url = 'http://admin:s3cret-pw@[not-a-host/api'));
    expect(problems).toEqual([{ path: 'nodes[0].url', message: '"http://admin:***@[not-a-host/api" is not a URL' }]);
    expect(new ConfigError(problems).message).not.toContain('s3cret-pw');
  });

  it('masks a password in any config error message, whatever wrote it', () => {
    const error = new ConfigError([{ path: '/x/nodes.config.ts', message: "cannot be loaded: 3 | url: 'https://u:hunter22@h:1/x'," }]);
    expect(error.message).toContain("'https://u:***@h:1/x'");
    expect(error.message).not.toContain('hunter22');
    expect(JSON.stringify(error.problems)).not.toContain('hunter22');
  });

  it('maskUrlPassword leaves URLs without a password as they are', () => {
    expect(maskUrlPassword('http://user@host:80/a@b and https://host:443/p')).toBe('http://user@host:80/a@b and https://host:443/p');
    expect(maskUrlPassword('mysql://root:pw@127.0.0.1:3306/db')).toBe('mysql://root:***@127.0.0.1:3306/db');
  });
});

describe('validateConfig: file paths resolved against the config folder and checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-paths-'));
  writeFileSync(join(dir, 'ca.pem'), 'not really a CA, but a file');
  writeFileSync(join(dir, 'id_test'), 'not really a key, but a file');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes tls.ca, ssh.privateKeyPath and ssh.knownHosts absolute from baseDir, not the cwd', () => {
    const config = valid();
    config.nodes[0]!.tls = { ca: './ca.pem' };
    config.nodes[0]!.ssh = { host: 'h', username: 'u', privateKeyPath: 'id_test', knownHosts: 'known_hosts' };
    const result = validateConfig(config.nodes, config.services, { baseDir: dir });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.config.nodes[0]!.tls?.ca).toBe(join(dir, 'ca.pem'));
    expect(result.config.nodes[0]!.ssh?.privateKeyPath).toBe(join(dir, 'id_test'));
    expect(result.config.nodes[0]!.ssh?.knownHosts).toBe(join(dir, 'known_hosts'));
    // The user's objects are left as they were.
    expect(config.nodes[0]!.tls.ca).toBe('./ca.pem');
  });

  it('reports a missing CA or key file at load, with its path', () => {
    const problems = problemsAfter(
      (c) => {
        c.nodes[0]!.tls = { ca: 'certs/missing.pem' };
        c.nodes[0]!.ssh = { host: 'h', username: 'u', privateKeyPath: '/nonexistent/id_ed25519' };
      },
      { baseDir: dir },
    );
    expect(problems).toEqual([
      { path: 'nodes[0].tls.ca', message: `CA file ${join(dir, 'certs/missing.pem')} cannot be read (no such file)` },
      { path: 'nodes[0].ssh.privateKeyPath', message: 'private key /nonexistent/id_ed25519 cannot be read (no such file)' },
    ]);
  });
});

describe('validateConfig: every problem at once', () => {
  it('reports a missing CA file together with the other problems', () => {
    const config = valid();
    config.nodes[0]!.tls = { ca: '/nonexistent/ca.pem' };
    config.nodes[0]!.timeoutMs = 3_000_000_000;
    config.services[0]!.protocols[0]!.pull.columns = { acct: 'id_account' };
    const result = validateConfig(config.nodes, config.services, { baseDir: '/' });
    if (result.ok) throw new Error('expected problems');
    expect(result.problems.map((p) => p.path)).toEqual([
      'nodes[0].timeoutMs',
      'services[0].protocols[0].pull.columns.acct',
      'nodes[0].tls.ca',
    ]);
  });
});
