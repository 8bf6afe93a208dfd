import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import { openDatabase } from '../../src/db/open-database.js';
import { createDemoTables, seedDemoTables } from '../../src/demo/demo-saas.js';
import { freePort, RUN_SSH_SUITES, sshNode, startSshd, type TestSshd } from '../helpers/sshd.js';

const MESH = fileURLToPath(new URL('../../dist/cli/mesh.js', import.meta.url));
const SERVICE = 'micro.emails.timeline';

const SERVICES_CONFIG = `import { defineServices } from 'workmesh';
export default defineServices([{
  name: '${SERVICE}',
  entity: { table: 'account', id: 'id', node: 'node_for_timeline', weight: 'weight' },
  protocols: [{ name: 'deliveries', table: 'delivery', id: 'id', sort: 'create_time', entityRef: 'id_account',
    push: { path: '/push' } }],
}]);
`;

function mesh(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESH, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe.skipIf(!RUN_SSH_SUITES)('mesh --nodes --ssh against a real sshd and a real database', () => {
  let sshd: TestSshd;
  let dir: string;
  let args: string[];

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'workmesh-nodes-ssh-'));
    const reachable = sshNode(sshd, { name: 'up', services: [SERVICE] });
    const closedPort = await freePort();
    const unreachable: NodeConfig = sshNode(sshd, {
      name: 'down',
      services: [SERVICE],
      ssh: { port: closedPort, connectTimeoutMs: 2_000 },
    });
    const noSsh: NodeConfig = { name: 'plain', url: 'http://127.0.0.1:1', apiKey: 'secret-api-key-123', services: { [SERVICE]: {} } };
    writeFileSync(
      join(dir, 'nodes.config.ts'),
      `import { defineNodes } from 'workmesh';\nexport default defineNodes(${JSON.stringify([reachable, unreachable, noSsh])});\n`,
    );
    writeFileSync(join(dir, 'services.config.ts'), SERVICES_CONFIG);
    const url = `sqlite:${join(dir, 'saas.db')}`;
    const database = await openDatabase(url);
    await createDemoTables(database);
    await seedDemoTables(database, { accounts: 6, records: 60 });
    await database.close();
    args = ['--db', url, '--nodes-config', join(dir, 'nodes.config.ts'), '--services-config', join(dir, 'services.config.ts')];
    expect((await mesh(['migrate', ...args])).status).toBe(0);
    expect((await mesh(['assign', ...args])).status).toBe(0);
  });
  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds reachability, load, memory and disk to each row in --json; unreachable nodes are said so', async () => {
    const run = await mesh(['--nodes', '--ssh', '--json', ...args]);
    expect(run.status).toBe(0);
    const rows = JSON.parse(run.stdout) as { name: string; entities: number; pending: number; ssh: Record<string, unknown> }[];
    expect(rows.map((r) => r.name)).toEqual(['up', 'down', 'plain']);
    expect(rows.map((r) => r.entities)).toEqual([2, 2, 2]);
    expect(rows.map((r) => r.pending)).toEqual([20, 20, 20]);
    const [up, down, plain] = rows;
    expect(up!.ssh.reachable).toBe(true);
    expect(up!.ssh.load1).toEqual(expect.any(Number));
    expect(up!.ssh.cpus).toBeGreaterThan(0);
    expect(up!.ssh.memoryUsedPercent).toBeGreaterThan(0);
    expect(up!.ssh.memoryUsedPercent).toBeLessThanOrEqual(100);
    expect(up!.ssh.diskUsedPercent).toBeGreaterThan(0);
    expect(down!.ssh.reachable).toBe(false);
    expect(String(down!.ssh.error)).toMatch(/down: .*refused/);
    expect(plain!.ssh).toEqual({ configured: false, reachable: false, error: 'no ssh configured' });
    expect(run.stdout).not.toContain('secret-api-key-123');
  });

  it('shows the same in the table, with the unreachable node on stderr', async () => {
    const run = await mesh(['--nodes', '--ssh', ...args]);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+URL\s+SERVICE.*SSH\s+LOAD\s+MEMORY\s+DISK$/);
    expect(lines.find((l) => l.startsWith('up '))).toMatch(/\bok\s+\d+\.\d\d\/\d+\s+\d+%\s+\d+%$/);
    expect(lines.find((l) => l.startsWith('down '))).toMatch(/\bunreachable\s+-\s+-\s+-$/);
    expect(lines.find((l) => l.startsWith('plain '))).toMatch(/\bno ssh configured\s+-\s+-\s+-$/);
    expect(run.stderr).toMatch(/down: .*refused/);
    expect(run.stderr).not.toMatch(/plain/);
  });
});
