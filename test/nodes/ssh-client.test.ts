import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import { expandHomePath, SshClient, SshError } from '../../src/nodes/ssh-client.js';
import { deployNode } from '../../src/operate/deploy-node.js';
import {
  freePort,
  passwordNode,
  RUN_PASSWORD_TESTS,
  RUN_SSH_SUITES,
  sshNode,
  startSilentServer,
  startSshd,
  IS_ROOT,
  type TestSshd,
} from '../helpers/sshd.js';

const run = promisify(execFile);

async function connectError(node: NodeConfig): Promise<SshError> {
  try {
    const client = await SshClient.connect({ node });
    await client.close();
  } catch (error) {
    expect(error).toBeInstanceOf(SshError);
    return error as SshError;
  }
  throw new Error('connected, but should not have');
}

function passwordLoginOf(sshd: TestSshd): { user: string; password: string } {
  if (!sshd.passwordLogin) throw new Error('password login tests need root, to create an account with a password');
  return sshd.passwordLogin;
}

describe('expandHomePath', () => {
  it('expands a leading ~ only', () => {
    expect(expandHomePath('~/.ssh/id_ed25519', '/home/me')).toBe('/home/me/.ssh/id_ed25519');
    expect(expandHomePath('~', '/home/me')).toBe('/home/me');
    expect(expandHomePath('/etc/~/key', '/home/me')).toBe('/etc/~/key');
    expect(expandHomePath('~other/key', '/home/me')).toBe('~other/key');
  });
});

describe.skipIf(!RUN_SSH_SUITES)('SshClient against a real sshd', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd({ password: IS_ROOT });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('logs in with a key and runs commands, whatever their exit status', async () => {
    const client = await SshClient.connect({ node: sshNode(sshd) });
    try {
      const ok = await client.exec('echo out; echo err >&2');
      expect(ok).toEqual({ exitCode: 0, signal: null, stdout: 'out\n', stderr: 'err\n' });
      const failed = await client.exec('echo before; exit 7');
      expect(failed.exitCode).toBe(7);
      expect(failed.stdout).toBe('before\n');
    } finally {
      await client.close();
    }
  });

  it('reuses one connection for every command', async () => {
    const client = await SshClient.connect({ node: sshNode(sshd) });
    try {
      // SSH_CONNECTION holds the client's source port: the same port means the same connection.
      const first = await client.exec('echo $SSH_CONNECTION');
      const second = await client.exec('echo $SSH_CONNECTION');
      expect(first.stdout.trim()).not.toBe('');
      expect(second.stdout).toBe(first.stdout);
    } finally {
      await client.close();
    }
  });

  it('streams output as it comes', async () => {
    const client = await SshClient.connect({ node: sshNode(sshd) });
    const chunks: string[] = [];
    try {
      await client.exec('echo one; sleep 0.2; echo two', { onStdout: (text) => chunks.push(text) });
    } finally {
      await client.close();
    }
    expect(chunks.join('')).toBe('one\ntwo\n');
    expect(chunks.length).toBeGreaterThanOrEqual(2);
  });

  it('expands ~ in privateKeyPath', async () => {
    const home = process.env.HOME;
    process.env.HOME = dirname(sshd.clientKeyPath);
    try {
      const client = await SshClient.connect({ node: sshNode(sshd, { ssh: { privateKeyPath: '~/client_ed25519' } }) });
      await client.close();
    } finally {
      process.env.HOME = home;
    }
  });

  it('accepts the pinned host key, computing the fingerprint as ssh-keygen does', async () => {
    expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const unpinned = await SshClient.connect({ node: sshNode(sshd) });
    await unpinned.close();
    expect(unpinned.hostKey).toBe(sshd.hostKeyFingerprint);
    const client = await SshClient.connect({ node: sshNode(sshd, { ssh: { hostKey: sshd.hostKeyFingerprint } }) });
    const result = await client.exec('true');
    await client.close();
    expect(result.exitCode).toBe(0);
  });

  it('refuses a host key that does not match the pinned one, naming the node and both fingerprints', async () => {
    const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const error = await connectError(sshNode(sshd, { name: 'pinned-node', ssh: { hostKey: wrong } }));
    expect(error.reason).toBe('host-key-mismatch');
    expect(error.node).toBe('pinned-node');
    expect(error.message).toContain('pinned-node');
    expect(error.message).toContain(wrong);
    expect(error.message).toContain(sshd.hostKeyFingerprint);
  });

  it('refuses a key the server does not know', async () => {
    const error = await connectError(sshNode(sshd, { name: 'keyed', ssh: { privateKeyPath: sshd.strangerKeyPath } }));
    expect(error.reason).toBe('auth-refused');
    expect(error.message).toMatch(/^keyed: authentication refused for .*@127\.0\.0\.1:\d+ \(private key .*stranger_ed25519\)$/);
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  it('says so when the key file cannot be read', async () => {
    const error = await connectError(sshNode(sshd, { ssh: { privateKeyPath: `${sshd.dir}/no-such-key` } }));
    expect(error.reason).toBe('key-file');
    expect(error.message).toContain('no-such-key');
    expect(error.message).toContain('ENOENT');
  });

  it.skipIf(!RUN_PASSWORD_TESTS)('logs in with a password', async () => {
    const login = passwordLoginOf(sshd);
    const client = await SshClient.connect({ node: passwordNode(sshd, login.password) });
    try {
      const result = await client.exec('id -un');
      expect(result.stdout.trim()).toBe(login.user);
    } finally {
      await client.close();
    }
  });

  it.skipIf(!RUN_PASSWORD_TESTS)('refuses a wrong password without ever showing it', async () => {
    const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
    passwordLoginOf(sshd);
    const error = await connectError({ ...passwordNode(sshd, wrong), name: 'pw-node' });
    expect(error.reason).toBe('auth-refused');
    expect(error.message).toMatch(/^pw-node: authentication refused for wmssh\w+@127\.0\.0\.1:\d+ \(password\)$/);
    expect(error.message).not.toContain(wrong);
    expect(error.stack ?? '').not.toContain(wrong);
    expect(JSON.stringify(error)).not.toContain(wrong);
  });

  it('gives up on a command after its time-out', async () => {
    const client = await SshClient.connect({ node: sshNode(sshd) });
    try {
      const started = Date.now();
      await expect(client.exec('sleep 5', { timeoutMs: 300 })).rejects.toMatchObject({ reason: 'timeout' });
      expect(Date.now() - started).toBeLessThan(3_000);
      // The connection survives a command given up on.
      expect((await client.exec('echo still')).stdout).toBe('still\n');
    } finally {
      await client.close();
    }
  });
});

describe('SshClient without a server', () => {
  it('reports connection refused on a closed port', async () => {
    const port = await freePort();
    const node: NodeConfig = {
      name: 'closed',
      url: 'http://127.0.0.1:1',
      apiKey: 'k',
      services: {},
      ssh: { host: '127.0.0.1', port, username: 'root', password: 'never-shown-1234' },
    };
    const error = await connectError(node);
    expect(error.reason).toBe('connection-refused');
    expect(error.message).toBe(`closed: connection refused by root@127.0.0.1:${port}`);
  });

  it('times out on a server that never answers, within connectTimeoutMs', async () => {
    const silent = await startSilentServer();
    try {
      const node: NodeConfig = {
        name: 'silent',
        url: 'http://127.0.0.1:1',
        apiKey: 'k',
        services: {},
        ssh: { host: '127.0.0.1', port: silent.port, username: 'root', password: 'never-shown-1234', connectTimeoutMs: 400 },
      };
      const started = Date.now();
      const error = await connectError(node);
      const elapsed = Date.now() - started;
      expect(error.reason).toBe('timeout');
      expect(error.message).toBe(`silent: timed out after 400 ms connecting to root@127.0.0.1:${silent.port}`);
      expect(elapsed).toBeGreaterThanOrEqual(350);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      await silent.stop();
    }
  });

  it('says when a node has no ssh', async () => {
    const error = await connectError({ name: 'plain', url: 'http://127.0.0.1:1', apiKey: 'k', services: {} });
    expect(error.reason).toBe('not-configured');
    expect(error.message).toBe('plain: no ssh configured');
  });
});

describe.skipIf(!RUN_SSH_SUITES)(
  'host keys checked against known_hosts when none is pinned (trust on first use), against a real sshd',
  () => {
    let sshd: TestSshd;
    let dir: string;

    beforeAll(async () => {
      sshd = await startSshd();
      dir = mkdtempSync(join(tmpdir(), 'workmesh-known-hosts-'));
    });
    afterAll(async () => {
      await sshd?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const name = (): string => `[127.0.0.1]:${sshd.port}`;

    it('records the key on first use in OpenSSH form, accepts it after, and refuses a changed key before any command', async () => {
      // A folder that does not exist yet, as ~/.ssh on a fresh account.
      const file = join(dir, 'fresh', '.ssh', 'known_hosts');
      const node = sshNode(sshd, { name: 'tofu', ssh: { knownHosts: file } });

      const first = await SshClient.connect({ node });
      await first.close();
      expect(first.hostKeyCheck).toBe('recorded');
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA[A-Za-z0-9+/=]+$`));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
      // OpenSSH reads the entry as its own.
      const found = await run('ssh-keygen', ['-F', name(), '-f', file]);
      expect(found.stdout).toContain(lines[0]!);
      expect((await run('ssh-keygen', ['-l', '-f', file])).stdout).toContain(sshd.hostKeyFingerprint);

      const second = await SshClient.connect({ node });
      expect(second.hostKeyCheck).toBe('known');
      expect((await second.exec('echo same')).stdout).toBe('same\n');
      await second.close();
      expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual(lines);

      const oldFingerprint = sshd.hostKeyFingerprint;
      await sshd.rotateHostKey();
      expect(sshd.hostKeyFingerprint).not.toBe(oldFingerprint);
      const marker = join(sshd.dir, `never-${randomBytes(4).toString('hex')}`);
      const summary = await deployNode({ ...node, deploy: [`touch ${marker}`] });
      expect(summary.ok).toBe(false);
      expect(summary.ran).toEqual([]);
      expect(existsSync(marker)).toBe(false);
      const error = await connectError(node);
      expect(error.reason).toBe('host-key-changed');
      expect(error.message).toContain(`tofu: host key for ${name()} has changed`);
      expect(error.message).toContain(oldFingerprint);
      expect(error.message).toContain(`the server offers ${sshd.hostKeyFingerprint}`);
      const accept = `ssh-keygen -R '${name()}' -f '${file}'`;
      expect(error.message).toContain(accept);
      // Nothing was written over the old key.
      expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual(lines);

      // The command the message names does accept the new key: it is recorded on the next connection.
      await run('sh', ['-c', accept]);
      const renewed = await SshClient.connect({ node });
      expect(renewed.hostKeyCheck).toBe('recorded');
      expect(renewed.hostKey).toBe(sshd.hostKeyFingerprint);
      await renewed.close();
    });

    it('accepts a known_hosts file written by OpenSSH, hashed names included', async () => {
      const file = join(dir, 'scanned_known_hosts');
      const scanned = await run('ssh-keyscan', ['-H', '-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
      expect(scanned.stdout).toMatch(/^\|1\|/m);
      writeFileSync(file, `# written by ssh-keyscan -H\n${scanned.stdout}`);
      const client = await SshClient.connect({ node: sshNode(sshd, { ssh: { knownHosts: file } }) });
      await client.close();
      expect(client.hostKeyCheck).toBe('known');
      expect(readFileSync(file, 'utf8')).toBe(`# written by ssh-keyscan -H\n${scanned.stdout}`);
    });

    it('refuses a host known under another key, even with another key type, naming both', async () => {
      const file = join(dir, 'other_known_hosts');
      const stranger = readFileSync(`${sshd.strangerKeyPath}.pub`, 'utf8').split(' ');
      writeFileSync(file, `127.0.0.2,${name()} ${stranger[0]} ${stranger[1]}\n`);
      const error = await connectError(sshNode(sshd, { name: 'mitm', ssh: { knownHosts: file } }));
      expect(error.reason).toBe('host-key-changed');
      const strangerFingerprint = (await run('ssh-keygen', ['-l', '-f', `${sshd.strangerKeyPath}.pub`])).stdout.split(/\s+/)[1]!;
      expect(error.message).toContain(`${strangerFingerprint} (ssh-ed25519, line 1)`);
      expect(error.message).toContain(sshd.hostKeyFingerprint);
    });

    it('with ssh.hostKey pinned, checks the pin and leaves known_hosts alone', async () => {
      const file = join(dir, 'pinned', 'known_hosts');
      const client = await SshClient.connect({ node: sshNode(sshd, { ssh: { knownHosts: file, hostKey: sshd.hostKeyFingerprint } }) });
      await client.close();
      expect(client.hostKeyCheck).toBe('pinned');
      expect(existsSync(file)).toBe(false);
    });

    it('refuses to connect unchecked when the key cannot be recorded', async () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, '');
      // known_hosts "inside" a regular file: it can be neither read nor created.
      const error = await connectError(sshNode(sshd, { name: 'ro', ssh: { knownHosts: join(blocker, 'known_hosts') } }));
      expect(error.reason).toBe('host-key-changed');
      expect(error.message).toMatch(
        /^ro: cannot record the host key of \[127\.0\.0\.1\]:\d+ \(SHA256:\S+\) in .*: ENOTDIR; refusing to connect unchecked/,
      );
    });
  },
);
