import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Host keys as OpenSSH keeps them, so that `mesh`, `ssh` and Ansible agree on
 * which machine a node is: one `known_hosts` file (the user's
 * `~/.ssh/known_hosts` unless `ssh.knownHosts` names another), lines of
 * `host[,host…] key-type base64-key [comment]`, a host on a port other than
 * 22 written `[host]:port`, hashed names (`|1|salt|hash`, HashKnownHosts)
 * and `*`/`?`/`!` patterns understood, `@revoked` keys refused,
 * `@cert-authority` lines skipped (no certificates here).
 */

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` on any other, lower case as ssh writes it. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** `SHA256:<base64 without padding>` of a key blob, the form `ssh-keygen -lf` prints. */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH wire-format public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return length > 0 && 4 + length <= blob.length ? blob.subarray(4, 4 + length).toString('latin1') : 'unknown';
}

export interface KnownKey {
  type: string;
  blob: Buffer;
  /** 1-based line in the file, for messages. */
  line: number;
  revoked: boolean;
}

/** What the file says about a host key. */
export type HostKeyVerdict =
  { status: 'known' } | { status: 'unknown' } | { status: 'changed'; known: KnownKey[] } | { status: 'revoked'; line: number };

/** Every key the file holds for `name` (in its `[host]:port` form), revoked ones marked. */
export function readKnownKeys(file: string, name: string): KnownKey[] {
  if (!existsSync(file)) return [];
  const keys: KnownKey[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) return;
      let fields = text.split(/\s+/);
      let revoked = false;
      if (fields[0]!.startsWith('@')) {
        if (fields[0] === '@revoked') revoked = true;
        else return;
        fields = fields.slice(1);
      }
      const [patterns, type, base64] = fields;
      if (patterns === undefined || type === undefined || base64 === undefined) return;
      if (!hostMatches(patterns, name)) return;
      keys.push({ type, blob: Buffer.from(base64, 'base64'), line: index + 1, revoked });
    });
  return keys;
}

/**
 * Checks a server's key against the file. A host the file knows (under any
 * key type) that offers a key the file does not hold has changed: OpenSSH
 * refuses that too rather than trusting a new key for a known name.
 */
export function checkHostKey(file: string, name: string, blob: Buffer): HostKeyVerdict {
  const keys = readKnownKeys(file, name);
  const revoked = keys.find((key) => key.revoked && key.blob.equals(blob));
  if (revoked !== undefined) return { status: 'revoked', line: revoked.line };
  const trusted = keys.filter((key) => !key.revoked);
  if (trusted.some((key) => key.blob.equals(blob))) return { status: 'known' };
  return trusted.length === 0 ? { status: 'unknown' } : { status: 'changed', known: trusted };
}

/**
 * Appends `name type base64` as OpenSSH writes it on first use, creating the
 * folder (0700) and the file (0600) as ssh does when they are missing.
 */
export function recordHostKey(file: string, name: string, blob: Buffer): void {
  const folder = dirname(file);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: 0o700 });
  const created = !existsSync(file);
  const existing = created ? '' : readFileSync(file, 'utf8');
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  appendFileSync(file, `${separator}${name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
  if (created) chmodSync(file, 0o600);
}

/** The host key algorithms to ask the server for first: those the file knows for the host, as OpenSSH orders them. */
export function preferredHostKeyAlgorithms(keys: KnownKey[]): string[] {
  const algorithms: string[] = [];
  for (const key of keys) {
    if (key.revoked) continue;
    const names = key.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [key.type];
    for (const algorithm of names) if (!algorithms.includes(algorithm)) algorithms.push(algorithm);
  }
  return algorithms;
}

/** `host1,[host2]:2222,*.example.com,!bad.example.com` or a hashed `|1|salt|hash`. */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (salt === undefined || hash === undefined) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (!globMatches(body, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function globMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}
