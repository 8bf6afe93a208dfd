import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHostKey, keyTypeOf, knownHostsName, recordHostKey } from '../../src/nodes/known-hosts.js';

/** A key blob in SSH wire format: string type, then some bytes. */
function blob(type: string, body = randomBytes(32)): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, body]);
}

const dir = mkdtempSync(join(tmpdir(), 'workmesh-known-hosts-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string): string => {
  const path = join(dir, `known_hosts_${(n += 1)}`);
  writeFileSync(path, text);
  return path;
};

describe('known_hosts as OpenSSH reads it', () => {
  const key = blob('ssh-ed25519');
  const other = blob('ssh-ed25519');
  const line = (names: string, k = key): string => `${names} ${keyTypeOf(k)} ${k.toString('base64')}`;

  it('names a host [host]:port off port 22, in lower case', () => {
    expect(knownHostsName('Web1.Example.com', 22)).toBe('web1.example.com');
    expect(knownHostsName('10.0.0.5', 2222)).toBe('[10.0.0.5]:2222');
  });

  it('finds a key among comma-separated names, patterns and comments', () => {
    const path = file(`# comment\n\n${line('a.example.com,[10.0.0.5]:2222')} user@host\n`);
    expect(checkHostKey(path, '[10.0.0.5]:2222', key)).toEqual({ status: 'known' });
    expect(checkHostKey(path, '10.0.0.5', key)).toEqual({ status: 'unknown' });
    expect(checkHostKey(file(`${line('*.example.com')}\n`), 'web.example.com', key)).toEqual({ status: 'known' });
    expect(checkHostKey(file(`${line('*.example.com,!bad.example.com')}\n`), 'bad.example.com', key)).toEqual({ status: 'unknown' });
  });

  it('reads hashed names (HashKnownHosts)', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[127.0.0.1]:2200').digest('base64');
    const path = file(`${line(`|1|${salt.toString('base64')}|${hash}`)}\n`);
    expect(checkHostKey(path, '[127.0.0.1]:2200', key)).toEqual({ status: 'known' });
    expect(checkHostKey(path, '[127.0.0.1]:2201', key)).toEqual({ status: 'unknown' });
  });

  it('says changed when the host is known under another key, and revoked for an @revoked key', () => {
    const changed = checkHostKey(file(`${line('h', other)}\n`), 'h', key);
    expect(changed.status).toBe('changed');
    expect(checkHostKey(file(`@revoked ${line('*', key)}\n${line('h', key)}\n`), 'h', key)).toEqual({ status: 'revoked', line: 1 });
    // @cert-authority lines are not host keys.
    expect(checkHostKey(file(`@cert-authority ${line('h', other)}\n`), 'h', key)).toEqual({ status: 'unknown' });
  });

  it('records a key as OpenSSH writes it, after a last line without a newline, and creates the file 0600', () => {
    const path = file(line('x', other));
    recordHostKey(path, '[h]:2222', key);
    expect(readFileSync(path, 'utf8')).toBe(`${line('x', other)}\n${line('[h]:2222')}\n`);
    const fresh = join(dir, 'new', 'known_hosts');
    recordHostKey(fresh, 'h', key);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(checkHostKey(fresh, 'h', key)).toEqual({ status: 'known' });
  });
});
