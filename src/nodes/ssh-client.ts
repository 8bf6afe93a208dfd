import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { NodeSSH } from 'node-ssh';
import { expandHomePath } from '../config/home-path.js';
import type { NodeConfig, NodeSshConfig } from '../config/node-config.js';
import {
  checkHostKey,
  keyFingerprint,
  knownHostsName,
  preferredHostKeyAlgorithms,
  readKnownKeys,
  recordHostKey,
  type HostKeyVerdict,
} from './known-hosts.js';
import { shellQuote } from './shell-quote.js';

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Why an SSH connection or command failed; the message says it in words. */
export type SshFailure =
  | 'not-configured'
  | 'key-file'
  | 'auth-refused'
  | 'connection-refused'
  | 'timeout'
  | 'host-key-mismatch'
  | 'host-key-changed'
  | 'unreachable'
  | 'connection-lost'
  | 'other';

/** An SSH failure, always naming the node; never carries a password or key material. */
export class SshError extends Error {
  readonly node: string;
  readonly reason: SshFailure;

  constructor(props: { node: string; reason: SshFailure; message: string }) {
    super(props.message);
    this.name = 'SshError';
    this.node = props.node;
    this.reason = props.reason;
  }
}

export interface RemoteExecOptions {
  /** Decoded text as it arrives, in chunks that may cut lines anywhere. */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Gives up on the command (closing its channel) after this long; no limit when left out. */
  timeoutMs?: number;
}

export interface RemoteExecResult {
  /** null when the command ended without an exit status (killed by a signal, or the channel closed). */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The few calls the operate engine makes on a node's shell; node-ssh sits behind it. */
export interface RemoteShell {
  /** Runs one command through the login shell; resolves whatever its exit status, throws SshError when the connection fails. */
  exec(command: string, options?: RemoteExecOptions): Promise<RemoteExecResult>;
  close(): Promise<void>;
}

/** Opens a shell on a node; throws SshError. Tests and callers may swap it. */
export type ConnectRemoteShell = (node: NodeConfig) => Promise<RemoteShell>;

/**
 * `SHA256:<base64 without padding>` of a public key blob in SSH wire format,
 * the form `ssh-keygen -lf` prints.
 */
export function hostKeyFingerprint(publicKeyBlob: Buffer): string {
  return keyFingerprint(publicKeyBlob);
}

/** The user's own known_hosts, where OpenSSH's `ssh` looks first. */
export function defaultKnownHostsFile(home: string = homedir()): string {
  return join(home, '.ssh', 'known_hosts');
}

/** How the server's host key was trusted: pinned by `ssh.hostKey`, found in known_hosts, or recorded there now (first use). */
export type HostKeyCheck = 'pinned' | 'known' | 'recorded';

/**
 * ssh2's host key algorithms, the same as its defaults: given as an exact
 * list so that those known_hosts holds for a host can go first (as OpenSSH
 * orders them), rather than a known RSA key being reported as changed
 * because ed25519 was negotiated.
 */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

export { expandHomePath };

function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.trim().replace(/=+$/, '');
}

/** The parts of ssh2's Client this module listens to (ssh2 ships no types). */
interface Ssh2Events {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** The parts of an ssh2 channel used to give up on a command. */
interface SignalableChannel {
  signal(name: string): void;
  close(): void;
}

interface Ssh2ErrorFields {
  code?: unknown;
  level?: unknown;
}

/**
 * One SSH connection to one node, reused for every command of a run.
 *
 * @example
 * const client = await SshClient.connect({ node });
 * try {
 *   const { exitCode, stdout } = await client.exec('uptime');
 * } finally {
 *   await client.close();
 * }
 */
export class SshClient implements RemoteShell {
  readonly node: string;
  /** The server's host key fingerprint, `SHA256:…`, as `ssh.hostKey` would pin it. */
  readonly hostKey: string;
  readonly hostKeyCheck: HostKeyCheck;
  readonly #ssh: NodeSSH;
  readonly #redact: (text: string) => string;
  #lost: string | undefined;

  private constructor(props: {
    node: string;
    hostKey: string;
    hostKeyCheck: HostKeyCheck;
    ssh: NodeSSH;
    redact: (text: string) => string;
  }) {
    this.node = props.node;
    this.hostKey = props.hostKey;
    this.hostKeyCheck = props.hostKeyCheck;
    this.#ssh = props.ssh;
    this.#redact = props.redact;
    const connection = props.ssh.connection as Ssh2Events | null;
    // ssh2 emits 'error' on its client after login too (a reset, a dead peer);
    // with no listener that would crash the whole process.
    connection?.on('error', (error) => {
      this.#lost ??= this.#redact(error.message);
    });
    connection?.on('close', () => {
      this.#lost ??= 'connection closed';
    });
  }

  /** Connects and logs in; throws SshError naming the node and why. */
  static async connect(props: { node: NodeConfig }): Promise<SshClient> {
    const { node } = props;
    const ssh = node.ssh;
    if (ssh === undefined) {
      throw new SshError({ node: node.name, reason: 'not-configured', message: `${node.name}: no ssh configured` });
    }
    const redact = redactorFor(ssh);
    const port = ssh.port ?? DEFAULT_SSH_PORT;
    const timeoutMs = ssh.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const where = `${ssh.username}@${ssh.host}:${port}`;
    const fail = (reason: SshFailure, text: string): SshError =>
      new SshError({ node: node.name, reason, message: redact(`${node.name}: ${text}`) });

    let secret: { privateKey: string } | { password: string; tryKeyboard: true };
    if (ssh.privateKeyPath !== undefined) {
      const keyPath = expandHomePath(ssh.privateKeyPath);
      try {
        secret = { privateKey: await readFile(keyPath, 'utf8') };
      } catch (error) {
        throw fail('key-file', `cannot read private key ${ssh.privateKeyPath}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
    } else {
      // Servers that check passwords through PAM often offer only
      // keyboard-interactive; node-ssh answers its password prompt.
      secret = { password: ssh.password ?? '', tryKeyboard: true };
    }

    let seenFingerprint: string | undefined;
    let mismatch = false;
    const expected = ssh.hostKey === undefined ? undefined : normaliseFingerprint(ssh.hostKey);
    // Without a pinned key, the key is checked against known_hosts as OpenSSH
    // does with StrictHostKeyChecking=accept-new: recorded on first use, a
    // changed one refused.
    const knownHostsFile = ssh.knownHosts === undefined ? defaultKnownHostsFile() : expandHomePath(ssh.knownHosts);
    const hostName = knownHostsName(ssh.host, port);
    let verdict: HostKeyVerdict | undefined;
    let recordError: string | undefined;
    let hostKeyCheck: HostKeyCheck = expected === undefined ? 'known' : 'pinned';
    let algorithms: string[] | undefined;
    if (expected === undefined) {
      try {
        const preferred = preferredHostKeyAlgorithms(readKnownKeys(knownHostsFile, hostName)).filter((a) =>
          HOST_KEY_ALGORITHMS.includes(a),
        );
        if (preferred.length > 0) algorithms = [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
      } catch (error) {
        throw fail(
          'host-key-changed',
          `cannot read known hosts file ${knownHostsFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; refusing to connect`,
        );
      }
    }
    // Loaded on first use: only the SSH commands pay for ssh2's start-up.
    const { NodeSSH } = await import('node-ssh');
    const client = new NodeSSH();
    try {
      await client.connect({
        host: ssh.host,
        port,
        username: ssh.username,
        ...secret,
        readyTimeout: timeoutMs,
        ...(algorithms !== undefined && { algorithms: { serverHostKey: algorithms } }),
        // Without hostHash, ssh2 hands over the raw key blob, which is what
        // ssh-keygen hashes for its fingerprint. Refusing here ends the
        // handshake before authentication, so no command can run.
        hostVerifier: (key: Buffer): boolean => {
          seenFingerprint = hostKeyFingerprint(key);
          if (expected !== undefined) {
            mismatch = seenFingerprint !== expected;
            return !mismatch;
          }
          try {
            verdict = checkHostKey(knownHostsFile, hostName, key);
            if (verdict.status === 'unknown') {
              recordHostKey(knownHostsFile, hostName, key);
              hostKeyCheck = 'recorded';
            }
          } catch (error) {
            // A key that cannot be recorded would be trusted again, unchecked, next time: refuse instead.
            recordError = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
            return false;
          }
          return verdict.status === 'known' || verdict.status === 'unknown';
        },
      });
    } catch (error) {
      client.dispose();
      if (mismatch) {
        throw fail(
          'host-key-mismatch',
          `host key mismatch for ${ssh.host}:${port}: expected ${expected}, got ${seenFingerprint}; refusing to connect`,
        );
      }
      if (recordError !== undefined) {
        throw fail(
          'host-key-changed',
          `cannot record the host key of ${hostName} (${seenFingerprint}) in ${knownHostsFile}: ${recordError}; ` +
            'refusing to connect unchecked (make the file writable, name another with ssh.knownHosts, or pin the key with ssh.hostKey)',
        );
      }
      if (verdict?.status === 'changed' || verdict?.status === 'revoked') {
        throw fail('host-key-changed', describeChangedKey({ verdict, hostName, file: knownHostsFile, offered: seenFingerprint ?? '' }));
      }
      throw classifyConnectError(error, { fail, where, timeoutMs, ssh });
    }
    return new SshClient({ node: node.name, hostKey: seenFingerprint ?? '', hostKeyCheck, ssh: client, redact });
  }

  async exec(command: string, options: RemoteExecOptions = {}): Promise<RemoteExecResult> {
    if (this.#lost !== undefined || !this.#ssh.isConnected()) throw this.#lostError();
    const stdoutDecoder = new StringDecoder('utf8');
    const stderrDecoder = new StringDecoder('utf8');
    let channel: SignalableChannel | undefined;
    const execution = this.#ssh.execCommand(command, {
      noTrim: true,
      onChannel: (opened: SignalableChannel) => {
        channel = opened;
      },
      ...(options.onStdout && { onStdout: (chunk: Buffer) => emit(options.onStdout, stdoutDecoder.write(chunk)) }),
      ...(options.onStderr && { onStderr: (chunk: Buffer) => emit(options.onStderr, stderrDecoder.write(chunk)) }),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (options.timeoutMs === undefined) return;
      timer = setTimeout(() => {
        // sshd keeps a channel open until its command ends, so closing alone
        // would not stop `sleep 600`: kill it, and do not wait for the close.
        try {
          channel?.signal('KILL');
          channel?.close();
        } catch {
          // The channel went away meanwhile; nothing left to stop.
        }
        reject(
          new SshError({ node: this.node, reason: 'timeout', message: `${this.node}: command timed out after ${options.timeoutMs} ms` }),
        );
      }, options.timeoutMs);
    });
    execution.catch(() => undefined);
    try {
      const response = await Promise.race([execution, timeout]);
      emit(options.onStdout, stdoutDecoder.end());
      emit(options.onStderr, stderrDecoder.end());
      if (response.code === null && response.signal === null && this.#lost !== undefined) throw this.#lostError();
      return { exitCode: response.code, signal: response.signal, stdout: response.stdout, stderr: response.stderr };
    } catch (error) {
      if (error instanceof SshError) throw error;
      throw new SshError({
        node: this.node,
        reason: 'connection-lost',
        message: this.#redact(`${this.node}: cannot run command: ${(error as Error).message}`),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#ssh.dispose();
  }

  #lostError(): SshError {
    return new SshError({
      node: this.node,
      reason: 'connection-lost',
      message: `${this.node}: connection lost${this.#lost === undefined ? '' : ` (${this.#lost})`}`,
    });
  }
}

/**
 * OpenSSH's warning in words: what changed, where the old key is written,
 * and the command that forgets it (the next connection then records the new
 * one), to run only once the new key is known to be right.
 */
function describeChangedKey(props: {
  verdict: Extract<HostKeyVerdict, { status: 'changed' | 'revoked' }>;
  hostName: string;
  file: string;
  offered: string;
}): string {
  const { verdict, hostName, file, offered } = props;
  if (verdict.status === 'revoked') {
    return `host key ${offered} of ${hostName} is marked @revoked in ${file} (line ${verdict.line}); refusing to connect`;
  }
  const known = verdict.known.map((key) => `${keyFingerprint(key.blob)} (${key.type}, line ${key.line})`).join(', ');
  return (
    `host key for ${hostName} has changed: ${file} holds ${known}, the server offers ${offered}; refusing to connect. ` +
    'Someone may be intercepting the connection, or the node was reinstalled. ' +
    `Once you know the new key is right, forget the old one with: ssh-keygen -R ${shellQuote(hostName)} -f ${shellQuote(file)}`
  );
}

/** The default {@link ConnectRemoteShell}. */
export const connectSsh: ConnectRemoteShell = (node) => SshClient.connect({ node });

function emit(listener: ((text: string) => void) | undefined, text: string): void {
  if (listener !== undefined && text !== '') listener(text);
}

/**
 * Neither ssh2 nor we put the password in a message, but an error text from a
 * server or a library is not ours to trust: a password that slips in anyway is
 * masked. Very short passwords are left alone, or every message would be mangled.
 */
function redactorFor(ssh: NodeSshConfig): (text: string) => string {
  const password = ssh.password;
  if (password === undefined || password.length < 4) return (text) => text;
  return (text) => text.split(password).join('***');
}

function classifyConnectError(
  error: unknown,
  context: {
    fail: (reason: SshFailure, text: string) => SshError;
    where: string;
    timeoutMs: number;
    ssh: NodeSshConfig;
  },
): SshError {
  const { fail, where, timeoutMs, ssh } = context;
  const message = error instanceof Error ? error.message : String(error);
  const { code, level } = (typeof error === 'object' && error !== null ? error : {}) as Ssh2ErrorFields;
  if (level === 'client-authentication') {
    const method = ssh.privateKeyPath !== undefined ? `private key ${ssh.privateKeyPath}` : 'password';
    return fail('auth-refused', `authentication refused for ${where} (${method})`);
  }
  if (level === 'client-timeout') return fail('timeout', `timed out after ${timeoutMs} ms connecting to ${where}`);
  // node-ssh's word for a socket that closed before login without an error of its own.
  if (message === 'No response from server') return fail('connection-lost', `connection closed by ${where} before login`);
  if (code === 'ECONNREFUSED') return fail('connection-refused', `connection refused by ${where}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return fail('unreachable', `cannot resolve host ${ssh.host}`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    return fail('unreachable', `cannot reach ${where} (${String(code)})`);
  }
  if (/privateKey|private key|passphrase/i.test(message)) {
    return fail('key-file', `private key ${ssh.privateKeyPath ?? ''} cannot be used: ${message}`);
  }
  return fail('other', `ssh to ${where} failed: ${message}`);
}
