import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE, ok } from '../helpers/cli-project.js';
import { runMesh, writeConfigFiles } from '../helpers/saas-fixture.js';
import { TEST_SERVER_URLS } from '../helpers/test-databases.js';

describe('mesh without a database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-cli-'));
  const { nodesConfig, servicesConfig } = writeConfigFiles(dir, { nodes: [NODE(1), NODE(2)] });
  const paths = ['--nodes-config', nodesConfig, '--services-config', servicesConfig];
  const FORMS = 'mysql://user:pass@host:3306/name, postgres://user:pass@host:5432/name or sqlite:./path.db';

  it('mesh --help lists the commands', async () => {
    const run = await runMesh(['--help']);
    ok(run);
    for (const usage of [
      'mesh --nodes [--service S] [--node N] [--ssh] [--json]',
      'mesh --services [--service S] [--json]',
      'mesh migrate [--dry-run]',
      'mesh assign [--service S] [--dry-run] [--quiet]',
      'mesh reassign --service S --entity ID [--to NODE] [--repush] [--dry-run]',
      'mesh drain --node N [--service S] [--repush] [--dry-run]',
      'mesh rebalance [--service S] [--dry-run]',
      'mesh rename-node --from OLD --to NEW [--dry-run]',
      'mesh status --service S --entity ID [--protocol P]',
      'mesh run --once [--quiet] | --every 60s [--concurrency N]',
    ]) {
      expect(run.stdout).toContain(`  ${usage}  `);
    }
    const noCommand = await runMesh([]);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stdout).toBe(run.stdout);
  });

  it("each command's --help shows its usage, its own options and its exit status", async () => {
    const commands: [string[], string, string[]][] = [
      [['--nodes'], 'mesh --nodes', ['--service S', '--node N', '--ssh', '--db URL']],
      [['assign'], 'mesh assign', ['--dry-run', '--quiet', 'Exit status:']],
      [['reassign'], 'mesh reassign', ['--to NODE', '--repush', '--dry-run', '1 refused because no node can take it', 'Exit status:']],
      [['rename-node'], 'mesh rename-node', ['--from NODE', '--to NODE', '--dry-run']],
      [['push'], 'mesh push', ['--concurrency N', '--now', '--quiet', '130 after SIGINT, 143 after SIGTERM']],
      [['pull'], 'mesh pull', ['--now', '130 after SIGINT, 143 after SIGTERM']],
      [['run'], 'mesh run', ['--once', '--every DURATION', 'at most 596h', '130 after SIGINT, 143 after SIGTERM']],
      [['retry'], 'mesh retry', ['--protocol P', '--entity ID', '--dry-run']],
    ];
    for (const [words, usage, shown] of commands) {
      const run = await runMesh([...words, '--help']);
      ok(run);
      expect(run.stdout.startsWith(`Usage: ${usage}`)).toBe(true);
      for (const text of [...shown, '--json', '--help']) expect(run.stdout, `${usage}: ${text}`).toContain(text);
    }
    // An option the command does not take is not listed: push has no --dry-run.
    expect((await runMesh(['push', '--help'])).stdout).not.toContain('--dry-run');
  });

  it('an unknown command exits 2', async () => {
    expect(await runMesh(['frobnicate'])).toEqual({ code: 2, stdout: '', stderr: 'mesh: unknown command "frobnicate"; see mesh --help\n' });
    const unknownOption = await runMesh(['assign', '--frobnicate']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stdout).toBe('');
    expect(unknownOption.stderr).toBe(
      'mesh: unknown option --frobnicate for mesh assign; mesh assign takes --service S, --dry-run, --quiet, --db URL, ' +
        '--nodes-config PATH, --services-config PATH, --json, --help\n',
    );
  });

  it('a missing --db exits 2 with what to do', async () => {
    expect(await runMesh(['--nodes', ...paths])).toEqual({
      code: 2,
      stdout: '',
      stderr: `mesh: no database: pass --db URL or set WORKMESH_DB (${FORMS})\n`,
    });
    expect(await runMesh(['assign', ...paths], { WORKMESH_DB: '  ' })).toEqual({
      code: 2,
      stdout: '',
      stderr: `mesh: no database: pass --db URL or set WORKMESH_DB (${FORMS})\n`,
    });
  });

  it('a malformed --db exits 2 and never echoes the password', async () => {
    const cases: [string, string][] = [
      ['mysql://root:pw-Secret-1@/saas', `mesh: database URL is malformed; expected ${FORMS}\n`],
      ['oracle://scott:pw-Secret-2@db.example.com/orcl', `mesh: database URL scheme "oracle" is not supported; expected ${FORMS}\n`],
      ['postgres://app:pw-Secret-3@127.0.0.1:5432', `mesh: database URL names no database; expected ${FORMS}\n`],
      ['sqlite:', 'mesh: database URL: sqlite: needs a file path (sqlite:./path.db or sqlite::memory:)\n'],
    ];
    for (const [url, stderr] of cases) {
      const run = await runMesh(['migrate', '--db', url, ...paths]);
      expect(run).toEqual({ code: 2, stdout: '', stderr });
    }
    const fromEnv = await runMesh(['--services', ...paths], { WORKMESH_DB: 'mysql://root:pw-Secret-4@/saas' });
    expect(fromEnv).toEqual({ code: 2, stdout: '', stderr: `mesh: database URL is malformed; expected ${FORMS}\n` });
  });

  it.skipIf(TEST_SERVER_URLS.mysql === undefined)(
    'a wrong database password is exit 2 naming the database, without echoing the password',
    async () => {
      const url = new URL(TEST_SERVER_URLS.mysql!);
      url.password = 'pw-Secret-5';
      const run = await runMesh(['--nodes', '--db', url.href, ...paths]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        /^mesh: cannot connect to the database mysql:\/\/root:\*\*\*@127\.0\.0\.1:3306\/test: Access denied for user/,
      );
      expect(run.stderr).not.toContain('pw-Secret-5');
    },
  );
});
