import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-problem.js';
import { loadConfig } from '../../src/config/load-config.js';

const MESH = fileURLToPath(new URL('../../dist/cli/mesh.js', import.meta.url));

const NODES = (extra = ''): string => `import { defineNodes } from 'workmesh';

export default defineNodes([
  { name: 'node1', url: 'https://127.0.0.1:3001', apiKey: 'k', services: { svc: {} }${extra} },
]);
`;

const SERVICES = `import { defineServices } from 'workmesh';

export default defineServices([
  {
    name: 'svc',
    entity: { table: 'account', id: 'id', node: 'node_svc' },
    protocols: [{ name: 'items', table: 'item', id: 'id', sort: 'id', entityRef: 'id_account', push: { path: '/push' } }],
  },
]);
`;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'workmesh-limits-'));
  writeFileSync(join(dir, 'services.config.ts'), SERVICES);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

function mesh(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MESH, ...args],
      { cwd: dir, timeout: 60_000, env: { ...process.env, WORKMESH_CACHE_DIR: 'off', ...env } },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ status, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

describe('loading the config has a time limit', () => {
  it('gives up on a top-level await that never settles, naming the file', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), `await new Promise(() => {});\n${NODES()}`);
    const error = await configError(loadConfig({}, dir, { timeoutMs: 300 }));
    expect(error.problems).toEqual([
      { path: join(dir, 'nodes.config.ts'), message: 'did not finish loading within 300 ms (a top-level await that never settles?)' },
    ]);
    expect(error.givenUp).toBe(true);
  });

  it('takes the limit from WORKMESH_CONFIG_TIMEOUT_MS', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), `await new Promise(() => {});\n${NODES()}`);
    process.env.WORKMESH_CONFIG_TIMEOUT_MS = '250';
    try {
      const error = await configError(loadConfig({}, dir));
      expect(error.problems[0]!.message).toBe('did not finish loading within 250 ms (a top-level await that never settles?)');
    } finally {
      delete process.env.WORKMESH_CONFIG_TIMEOUT_MS;
    }
  });

  it('mesh exits 2 naming the file, at once, when the await holds nothing (it used to exit 0 with no output)', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), `await new Promise(() => {});\n${NODES()}`);
    const run = await mesh(['--nodes', '--db', 'sqlite::memory:']);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`${join(dir, 'nodes.config.ts')}: never finished loading`);
  });

  it('mesh exits 2 after WORKMESH_CONFIG_TIMEOUT_MS when the file keeps a timer of its own running', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), `setInterval(() => {}, 1000);\nawait new Promise(() => {});\n${NODES()}`);
    const run = await mesh(['--nodes', '--db', 'sqlite::memory:'], { WORKMESH_CONFIG_TIMEOUT_MS: '500' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'nodes.config.ts')}: did not finish loading within 500 ms`);
    expect(run.ms).toBeLessThan(30_000);
  });
});

describe('file paths in nodes.config.ts are the config folder’s', () => {
  it('resolves tls.ca and ssh.privateKeyPath beside nodes.config.ts, whatever the cwd', async () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, 'certs'), { recursive: true });
    writeFileSync(join(project, 'certs', 'ca.pem'), 'a CA');
    writeFileSync(join(project, 'id_node'), 'a key');
    writeFileSync(
      join(project, 'nodes.config.ts'),
      NODES(", tls: { ca: './certs/ca.pem' }, ssh: { host: 'h', username: 'u', privateKeyPath: 'id_node' }"),
    );
    writeFileSync(join(project, 'services.config.ts'), SERVICES);
    // Run from another folder, as cron does.
    const config = await loadConfig({ nodes: join(project, 'nodes.config.ts'), services: join(project, 'services.config.ts') }, dir);
    expect(config.nodes[0]!.tls?.ca).toBe(join(project, 'certs', 'ca.pem'));
    expect(config.nodes[0]!.ssh?.privateKeyPath).toBe(join(project, 'id_node'));
  });

  it('mesh refuses a missing CA file at load, exit 2 with the path', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES(", tls: { ca: './certs/nope.pem' }"));
    const run = await mesh(['--nodes', '--db', 'sqlite::memory:']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`nodes[0].tls.ca: CA file ${join(dir, 'certs', 'nope.pem')} cannot be read (no such file)`);
  });

  it('mesh masks the password of a malformed node URL', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES().replace("'https://127.0.0.1:3001'", "'https://admin:Pa55-w0rd@[::1:3001/'"));
    const run = await mesh(['--nodes', '--db', 'sqlite::memory:']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('nodes[0].url: "https://admin:***@[::1:3001/" is not a URL');
    expect(run.stderr).not.toContain('Pa55-w0rd');
  });
});
