import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NodeConfig, NodeSshConfig } from '../../src/config/node-config.js';

const run = promisify(execFile);

export const SSHD_PATH = process.env.WORKMESH_TEST_SSHD ?? '/usr/sbin/sshd';
export const SSHD_INSTALL_HINT = 'apt-get update && apt-get install -y openssh-server';

/** Whether the SSH suites can run here. Under CI they run regardless, so a missing sshd fails them instead of skipping. */
export const SSHD_AVAILABLE = existsSync(SSHD_PATH);
export const RUN_SSH_SUITES = SSHD_AVAILABLE || Boolean(process.env.CI);

/** Password login needs a local account with a password, which only root can create. */
export const IS_ROOT = process.getuid?.() === 0;
export const RUN_PASSWORD_TESTS = IS_ROOT || Boolean(process.env.CI);

export interface TestSshd {
  host: '127.0.0.1';
  port: number;
  /** A temp dir writable by `user`, also its home; deploy tests write their marker files here. */
  dir: string;
  /** Logs in with `clientKeyPath` (and with a password when asked): a throwaway account when the suite runs as root, else the current user. */
  user: string;
  clientKeyPath: string;
  /** A key the server does not know. */
  strangerKeyPath: string;
  /** `SHA256:…` of the server's host key, as `ssh-keygen -lf` prints it (the current one, after a rotation). */
  hostKeyFingerprint: string;
  /**
   * A known_hosts file of the suite's own, which {@link sshNode} names in
   * `ssh.knownHosts`: trust on first use records there, never in the
   * ~/.ssh/known_hosts of whoever runs the tests.
   */
  knownHostsPath: string;
  /** Gives the server a new host key (as a reinstalled machine, or a machine in the middle, would show); resolves once it listens again. */
  rotateHostKey(): Promise<void>;
  /** `user` and its password; only when started with `password: true`. */
  passwordLogin?: { user: string; password: string };
  /** What sshd wrote on stderr so far, for failing tests. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts a real OpenSSH server on 127.0.0.1 on a free port with throwaway
 * keys, and waits until it accepts connections.
 *
 * @example
 * const sshd = await startSshd({ password: true });
 * try { ... } finally { await sshd.stop(); }
 */
export async function startSshd(options: { password?: boolean } = {}): Promise<TestSshd> {
  if (!existsSync(SSHD_PATH)) {
    throw new Error(`${SSHD_PATH} not found: the SSH tests need OpenSSH's server (${SSHD_INSTALL_HINT})`);
  }
  if (options.password && !IS_ROOT) {
    throw new Error('password login tests need root, to create a throwaway account with a password');
  }
  // sshd refuses to start without its privilege separation directory.
  if (IS_ROOT) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const base = mkdtempSync(join(tmpdir(), 'workmesh-sshd-'));
  let hostKey = join(base, 'host_ed25519');
  const clientKeyPath = join(base, 'client_ed25519');
  const strangerKeyPath = join(base, 'stranger_ed25519');
  for (const key of [hostKey, clientKeyPath, strangerKeyPath]) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'workmesh-test', '-f', key]);
  }
  const authorizedKeys = join(base, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKeyPath}.pub`), { mode: 0o644 });
  const fingerprintOf = async (key: string): Promise<string> =>
    (await run('ssh-keygen', ['-l', '-f', `${key}.pub`])).stdout.split(/\s+/)[1] ?? '';
  const hostKeyFingerprint = await fingerprintOf(hostKey);
  const dir = join(base, 'work');
  mkdirSync(dir, { mode: 0o755 });

  // As root, log in as a throwaway account with /bin/sh rather than as root:
  // root's own shell start-up files (pyenv, nvm, …) would run before every
  // command and make the tests slow and dependent on the machine. sshd with
  // UsePAM no refuses a locked account, so it always gets a password.
  let user = userInfo().username;
  let password: string | undefined;
  if (IS_ROOT) {
    user = `wmssh${randomBytes(4).toString('hex')}`;
    password = `pw-${randomBytes(12).toString('base64url')}`;
    chmodSync(base, 0o755);
    await retried(() => run('useradd', ['--no-create-home', '--home-dir', dir, '--shell', '/bin/sh', user]));
    await retried(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = execFile('chpasswd', (error) => (error ? reject(error) : resolve()));
          child.stdin?.end(`${user}:${password}\n`);
        }),
    );
    await run('chown', [user, dir]);
  }
  const passwordLogin = options.password && password !== undefined ? { user, password } : undefined;
  const account = IS_ROOT ? user : undefined;

  let attempt = 0;
  for (;;) {
    attempt += 1;
    // Another process may take the free port between our look and sshd's bind: try again.
    const port = await freePort();
    const config = join(base, 'sshd_config');
    const writeConfig = (): void =>
      writeFileSync(
        config,
        [
          'ListenAddress 127.0.0.1',
          `Port ${port}`,
          `HostKey ${hostKey}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          `PidFile ${join(base, 'sshd.pid')}`,
          'StrictModes no',
          'UsePAM no',
          'PermitRootLogin yes',
          `PasswordAuthentication ${options.password ? 'yes' : 'no'}`,
          'KbdInteractiveAuthentication no',
          'PubkeyAuthentication yes',
          'MaxStartups 100',
          'MaxSessions 50',
          'LogLevel VERBOSE',
          '',
        ].join('\n'),
      );
    writeConfig();
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitForPort(port, child, () => log);
    } catch (error) {
      child.kill();
      if (attempt < 3 && /Address already in use|Cannot bind/i.test(log)) continue;
      await cleanUp(base, account);
      throw error;
    }
    const server: TestSshd = {
      host: '127.0.0.1',
      port,
      dir,
      user,
      clientKeyPath,
      strangerKeyPath,
      hostKeyFingerprint,
      knownHostsPath: join(base, 'known_hosts'),
      async rotateHostKey() {
        hostKey = join(base, `host_ed25519_${randomBytes(4).toString('hex')}`);
        await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'workmesh-test-rotated', '-f', hostKey]);
        writeConfig();
        // sshd re-executes itself on SIGHUP, rereading its config, on the same port.
        const before = log.length;
        child.kill('SIGHUP');
        const deadline = Date.now() + 10_000;
        while (!/Server listening/.test(log.slice(before)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await waitForPort(port, child, () => log);
        server.hostKeyFingerprint = await fingerprintOf(hostKey);
      },
      ...(passwordLogin && { passwordLogin }),
      log: () => log,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
        await cleanUp(base, account);
      },
    };
    return server;
  }
}

async function cleanUp(base: string, account: string | undefined): Promise<void> {
  if (account !== undefined) {
    // sshd's per-connection processes outlive the listener for a moment, and
    // userdel refuses an account that still runs something.
    await retried(() => run('userdel', [account])).catch(() => run('userdel', ['--force', account]));
  }
  rmSync(base, { recursive: true, force: true });
}

/**
 * Test files run in parallel workers, and useradd, chpasswd and userdel each
 * lock /etc/passwd: one that finds it locked fails at once instead of waiting.
 */
async function retried<T>(action: () => Promise<T>, tries = 30): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening:\n${log()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not listen on port ${port} within 10 s:\n${log()}`);
}

/**
 * A TCP server that accepts connections and never says a word, so an SSH
 * client waits for the server's banner until its time-out.
 */
export async function startSilentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A node that logs into the test server with its client key; `ssh` entries override. */
export function sshNode(
  sshd: TestSshd,
  props: { name?: string; services?: string[]; deploy?: string[]; ssh?: Partial<NodeSshConfig> } = {},
): NodeConfig {
  const ssh = {
    host: sshd.host,
    port: sshd.port,
    username: sshd.user,
    privateKeyPath: sshd.clientKeyPath,
    knownHosts: sshd.knownHostsPath,
    connectTimeoutMs: 5_000,
    ...props.ssh,
  } as NodeSshConfig;
  return {
    name: props.name ?? 'node1',
    url: 'http://127.0.0.1:1',
    apiKey: 'test-key',
    services: Object.fromEntries((props.services ?? []).map((service) => [service, {}])),
    ssh,
    ...(props.deploy && { deploy: props.deploy }),
  };
}

/** The same node logging in with the throwaway account's password instead of a key. */
export function passwordNode(sshd: TestSshd, password: string): NodeConfig {
  if (!sshd.passwordLogin) throw new Error('start the server with { password: true }');
  const node = sshNode(sshd);
  const { privateKeyPath: _ignored, ...base } = node.ssh as NodeSshConfig & { privateKeyPath?: string };
  return { ...node, ssh: { ...base, username: sshd.passwordLogin.user, password } };
}
