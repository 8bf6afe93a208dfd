import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import { RUN_SSH_SUITES, sshNode, startSshd, type TestSshd } from '../helpers/sshd.js';

const MESH = fileURLToPath(new URL('../../dist/cli/mesh.js', import.meta.url));

const SERVICES_CONFIG = `import { defineServices } from 'workmesh';

// Flag columns are named after the protocol, and two services on one table must not share them.
const service = (name: string) => {
  const column = name.replace(/\\W/g, '_');
  return {
    name,
    entity: { table: 'account', id: 'id', node: 'node_' + column },
    protocols: [{ name: column, table: 'account', id: 'id', sort: 'create_time', push: { path: '/push' } }],
  };
};

export default defineServices([service('svc.a'), service('svc.b')]);
`;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(!RUN_SSH_SUITES)('mesh deploy and mesh exec, built, against a real sshd', () => {
  let sshd: TestSshd;
  let configDir: string;

  beforeAll(async () => {
    if (!existsSync(MESH)) throw new Error(`${MESH} not found: run npm run build first`);
    sshd = await startSshd();
    configDir = mkdtempSync(join(tmpdir(), 'workmesh-cli-'));
    writeFileSync(join(configDir, 'services.config.ts'), SERVICES_CONFIG);
  });
  afterAll(async () => {
    await sshd?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** Writes a nodes.config.ts of its own and runs `mesh` with it. */
  async function mesh(nodes: NodeConfig[], args: string[]): Promise<Run> {
    const nodesPath = join(configDir, `nodes-${randomBytes(4).toString('hex')}.config.ts`);
    writeFileSync(nodesPath, `import { defineNodes } from 'workmesh';\n\nexport default defineNodes(${JSON.stringify(nodes, null, 2)});\n`);
    // Before the command's own words: whatever follows `--` belongs to `mesh exec`'s command.
    const argv = [MESH, '--nodes-config', nodesPath, '--services-config', join(configDir, 'services.config.ts'), ...args];
    return new Promise((resolve) => {
      execFile(process.execPath, argv, { timeout: 30_000 }, (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ status, stdout, stderr });
      });
    });
  }

  const marker = (name: string): string => join(sshd.dir, `${name}-${randomBytes(4).toString('hex')}`);

  it('refuses a node name unsafe in a shell or a path at load, exit 2 naming it, before any SSH', async () => {
    const never = marker('never');
    const run = await mesh([sshNode(sshd, { name: '..', deploy: [`touch ${never}`] })], ['deploy', '--all']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('nodes[0].name: ".." is a path step');
    expect(run.stdout).toBe('');
    expect(existsSync(never)).toBe(false);
  });

  it('deploys one node: streams each line prefixed with the node, then a summary; exit 0', async () => {
    const log = marker('cli-deploy');
    const node = sshNode(sshd, {
      name: 'web1',
      services: ['svc.a', 'svc.b'],
      deploy: [`echo restart {service} on {node} | tee -a ${log}`],
    });
    const run = await mesh([node], ['deploy', '--node', 'web1']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toContain(`[web1] $ echo restart 'svc.a' on 'web1' | tee -a ${log}`);
    expect(lines).toContain('[web1] restart svc.a on web1');
    expect(lines).toContain('[web1] restart svc.b on web1');
    expect(lines.some((line) => /^web1\s+ok\s+2\/2\s/.test(line))).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('restart svc.a on web1\nrestart svc.b on web1\n');
  });

  it('deploys --all: a failing node gives exit 1 and its failure on stderr, the others still deploy', async () => {
    const good = marker('cli-good');
    const never = marker('cli-never');
    const nodes = [
      sshNode(sshd, { name: 'good', deploy: [`touch ${good}`] }),
      sshNode(sshd, { name: 'bad', deploy: ['echo "no space left" >&2; exit 3', `touch ${never}`] }),
      // Nothing to deploy: --all leaves it out rather than failing on it.
      { name: 'idle', url: 'http://127.0.0.1:1', apiKey: 'k', services: {} },
    ];
    const run = await mesh(nodes, ['deploy', '--all']);
    expect(run.status).toBe(1);
    expect(existsSync(good)).toBe(true);
    expect(existsSync(never)).toBe(false);
    expect(run.stderr.split('\n')).toContain('[bad] no space left');
    expect(run.stderr.split('\n')).toContain('[bad] failed: command "echo "no space left" >&2; exit 3" exited with status 3');
    expect(run.stdout).toMatch(/^bad\s+failed\s+1\/2\s.*exited with status 3$/m);
    expect(run.stdout).not.toMatch(/^idle/m);
  });

  it('refuses a host key mismatch before running anything; exit 1', async () => {
    const never = marker('cli-pinned');
    const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const run = await mesh(
      [sshNode(sshd, { name: 'pinned', deploy: [`touch ${never}`], ssh: { hostKey: wrong } })],
      ['deploy', '--node', 'pinned'],
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `[pinned] failed: host key mismatch for 127.0.0.1:${sshd.port}: expected ${wrong}, got ${sshd.hostKeyFingerprint}`,
    );
    expect(existsSync(never)).toBe(false);
  });

  it('gives --json summaries and nothing else on stdout', async () => {
    const run = await mesh([sshNode(sshd, { name: 'j1', deploy: ['echo quiet', 'exit 2'] })], ['deploy', '--node', 'j1', '--json']);
    expect(run.status).toBe(1);
    const summaries = JSON.parse(run.stdout) as unknown;
    expect(summaries).toMatchObject([{ node: 'j1', ok: false, planned: 2, failedCommand: { command: 'exit 2', exitCode: 2 } }]);
  });

  it('exits 2 on bad usage: unknown node, a node without ssh or deploy, both --node and --all', async () => {
    const nodes: NodeConfig[] = [
      sshNode(sshd, { name: 'ok', deploy: ['true'] }),
      { name: 'nossh', url: 'http://127.0.0.1:1', apiKey: 'k', services: {}, deploy: ['true'] },
      sshNode(sshd, { name: 'nodeploy' }),
    ];
    const unknown = await mesh(nodes, ['deploy', '--node', 'ghost']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('mesh: unknown node "ghost"');
    const noSsh = await mesh(nodes, ['deploy', '--node', 'nossh']);
    expect(noSsh.status).toBe(2);
    expect(noSsh.stderr).toContain('mesh: no ssh configured for node nossh');
    const noDeploy = await mesh(nodes, ['deploy', '--node', 'nodeploy']);
    expect(noDeploy.status).toBe(2);
    expect(noDeploy.stderr).toContain('has no deploy commands');
    const all = await mesh(nodes, ['deploy', '--all']);
    expect(all.status).toBe(2);
    expect(all.stderr).toContain('no ssh configured for node nossh');
    const both = await mesh(nodes, ['deploy', '--all', '--node', 'ok']);
    expect(both.status).toBe(2);
    expect(both.stdout).toBe('');
  });

  it('exec runs one command and shows its output as is; a non-zero exit gives 1', async () => {
    const nodes = [sshNode(sshd, { name: 'box' })];
    const ok = await mesh(nodes, ['exec', '--node', 'box', '--', 'echo', 'hello', '$USER']);
    expect(ok).toEqual({ status: 0, stdout: `hello ${sshd.user}\n`, stderr: '' });
    const failed = await mesh(nodes, ['exec', '--node', 'box', '--', 'echo out; echo err >&2; exit 4']);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toBe('out\n');
    expect(failed.stderr).toContain('err\n');
    expect(failed.stderr).toContain('mesh: box: command exited with status 4');
  });

  it('exec --json gives { node, exitCode, stdout, stderr }', async () => {
    const run = await mesh([sshNode(sshd, { name: 'box' })], ['exec', '--node', 'box', '--json', '--', 'echo out; echo err >&2; exit 4']);
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ node: 'box', exitCode: 4, stdout: 'out\n', stderr: 'err\n' });
  });

  it('exec exits 2 without a command or with an unknown node', async () => {
    const nodes = [sshNode(sshd, { name: 'box' })];
    const noCommand = await mesh(nodes, ['exec', '--node', 'box']);
    expect(noCommand.status).toBe(2);
    expect(noCommand.stderr).toContain('mesh: no command given');
    const unknown = await mesh(nodes, ['exec', '--node', 'nope', '--', 'true']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('mesh: unknown node "nope" (known: box)');
  });
});
