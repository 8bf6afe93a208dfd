import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployNode, deployNodes, type DeployEvent } from '../../src/operate/deploy-node.js';
import { freePort, IS_ROOT, passwordNode, RUN_PASSWORD_TESTS, RUN_SSH_SUITES, sshNode, startSshd, type TestSshd } from '../helpers/sshd.js';

describe.skipIf(!RUN_SSH_SUITES)('deployNode against a real sshd', () => {
  let sshd: TestSshd;
  /** A file name of its own for each test, in the server's writable dir. */
  const fresh = (name: string): string => join(sshd.dir, `${name}-${randomBytes(4).toString('hex')}`);

  beforeAll(async () => {
    sshd = await startSshd({ password: IS_ROOT });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('runs every command in order over one connection and reports its output lines', async () => {
    const log = fresh('log');
    const events: DeployEvent[] = [];
    const summary = await deployNode(
      sshNode(sshd, {
        name: 'node-a',
        deploy: [`echo first >> ${log}`, `echo $SSH_CONNECTION >> ${log}`, `echo $SSH_CONNECTION >> ${log}; echo hello; echo warn >&2`],
      }),
      { onEvent: (event) => events.push(event) },
    );
    expect(summary).toMatchObject({ node: 'node-a', ok: true, planned: 3 });
    expect(summary.error).toBeUndefined();
    expect(summary.ran.map((r) => r.exitCode)).toEqual([0, 0, 0]);
    const written = readFileSync(log, 'utf8').split('\n');
    expect(written[0]).toBe('first');
    expect(written[1]).not.toBe('');
    expect(written[2]).toBe(written[1]);
    expect(events.filter((e) => e.type === 'line')).toEqual([
      { type: 'line', node: 'node-a', stream: 'stdout', line: 'hello' },
      { type: 'line', node: 'node-a', stream: 'stderr', line: 'warn' },
    ]);
    expect(events.filter((e) => e.type === 'command').map((e) => (e.type === 'command' ? e.index : -1))).toEqual([0, 1, 2]);
    expect(events.at(-1)).toEqual({ type: 'finished', summary });
  });

  it('fills in {node} and runs a {service} command once per service, in config order', async () => {
    const log = fresh('services');
    const summary = await deployNode(
      sshNode(sshd, {
        name: 'node-b',
        services: ['micro.emails.timeline', 'micro.sms', 'reports'],
        deploy: [`echo start {node} >> ${log}`, `echo {service} on {node} >> ${log}`, `echo end >> ${log}`],
      }),
    );
    expect(summary.ok).toBe(true);
    expect(summary.planned).toBe(5);
    expect(readFileSync(log, 'utf8')).toBe('start node-b\nmicro.emails.timeline on node-b\nmicro.sms on node-b\nreports on node-b\nend\n');
  });

  it('stops at the first failing command, with the command, its exit status and its output', async () => {
    const before = fresh('before');
    const after = fresh('after');
    const events: DeployEvent[] = [];
    const summary = await deployNode(
      sshNode(sshd, {
        name: 'node-c',
        deploy: [`touch ${before}`, 'echo compiling; echo "error: missing semicolon" >&2; exit 3', `touch ${after}`],
      }),
      { onEvent: (event) => events.push(event) },
    );
    expect(existsSync(before)).toBe(true);
    expect(existsSync(after)).toBe(false);
    expect(summary.ok).toBe(false);
    expect(summary.ran).toHaveLength(2);
    expect(summary.failedCommand).toMatchObject({
      command: 'echo compiling; echo "error: missing semicolon" >&2; exit 3',
      exitCode: 3,
      signal: null,
    });
    expect(summary.failedCommand?.output).toContain('compiling\n');
    expect(summary.failedCommand?.output).toContain('error: missing semicolon\n');
    expect(summary.error).toContain('node-c: command "echo compiling; echo "error: missing semicolon" >&2; exit 3" exited with status 3');
    expect(summary.error).toContain('error: missing semicolon');
    expect(events.filter((e) => e.type === 'command')).toHaveLength(2);
  });

  it('refuses a host key that does not match before running anything', async () => {
    const marker = fresh('never');
    const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const summary = await deployNode(sshNode(sshd, { name: 'node-d', deploy: [`touch ${marker}`], ssh: { hostKey: wrong } }));
    expect(summary.ok).toBe(false);
    expect(summary.ran).toEqual([]);
    expect(summary.error).toContain('node-d: host key mismatch');
    expect(summary.error).toContain(`expected ${wrong}, got ${sshd.hostKeyFingerprint}`);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a wrong key, clearly', async () => {
    const marker = fresh('never');
    const summary = await deployNode(
      sshNode(sshd, { name: 'node-e', deploy: [`touch ${marker}`], ssh: { privateKeyPath: sshd.strangerKeyPath } }),
    );
    expect(summary.ok).toBe(false);
    expect(summary.error).toMatch(/^node-e: authentication refused for \S+@127\.0\.0\.1:\d+ \(private key /);
    expect(existsSync(marker)).toBe(false);
  });

  it.skipIf(!RUN_PASSWORD_TESTS)('deploys with a password, and a wrong one is refused without ever showing it', async () => {
    if (!sshd.passwordLogin) throw new Error('password login tests need root, to create an account with a password');
    const marker = fresh('pw');
    const good = await deployNode({ ...passwordNode(sshd, sshd.passwordLogin.password), deploy: [`touch ${marker}`] });
    expect(good.ok).toBe(true);
    expect(existsSync(marker)).toBe(true);

    const secret = `s3cret-${randomBytes(9).toString('base64url')}`;
    const bad = await deployNode({ ...passwordNode(sshd, secret), name: 'node-f', deploy: ['true'] });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/^node-f: authentication refused for \S+@127\.0\.0\.1:\d+ \(password\)$/);
    expect(JSON.stringify(bad)).not.toContain(secret);
  });

  it('reports connection refused on a closed port', async () => {
    const port = await freePort();
    const summary = await deployNode(sshNode(sshd, { name: 'node-g', deploy: ['true'], ssh: { port } }));
    expect(summary).toMatchObject({ ok: false, ran: [] });
    expect(summary.error).toBe(`node-g: connection refused by ${sshd.user}@127.0.0.1:${port}`);
  });

  it('deploys several nodes at once, a bounded number at a time, summaries in node order', async () => {
    const log = fresh('concurrent');
    let running = 0;
    let most = 0;
    const names = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const summaries = await deployNodes(
      names.map((name) => sshNode(sshd, { name, deploy: [name === 'n3' ? 'exit 1' : `sleep 0.3; echo {node} >> ${log}`] })),
      {
        concurrency: 2,
        onEvent: (event) => {
          if (event.type === 'connecting') most = Math.max(most, ++running);
          if (event.type === 'finished') running -= 1;
        },
      },
    );
    expect(summaries.map((s) => [s.node, s.ok])).toEqual([
      ['n1', true],
      ['n2', true],
      ['n3', false],
      ['n4', true],
      ['n5', true],
    ]);
    expect(most).toBe(2);
    expect(readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual(['n1', 'n2', 'n4', 'n5']);
  });

  it('runs the injection through {service} and {node} as plain words: nothing extra runs on the node', async () => {
    // deployNode takes a NodeConfig as given: the load-time refusal of such names
    // (test/config/validate-config-security.test.ts) is not what stops it here.
    const injection = 'x;echo INJECTED-$(id -u)>pwned;#';
    const work = fresh('inject');
    const events: DeployEvent[] = [];
    const node = sshNode(sshd, {
      name: `n;echo NODE-INJECTED-$(id -u)>pwned-node;#`,
      services: [injection],
      deploy: [`mkdir ${work} && cd ${work} && echo deploying {node} {service}`],
    });
    const summary = await deployNode(node, { onEvent: (event) => events.push(event) });
    expect(summary.ok).toBe(true);
    const lines = events.flatMap((e) => (e.type === 'line' ? [e.line] : []));
    expect(lines).toEqual([`deploying ${node.name} ${injection}`]);
    expect(readdirSync(work)).toEqual([]);
  });

  it('quotes a name that passes validation but means something to a shell: node "2" before ">"', async () => {
    const log = fresh('fd');
    // Unquoted, `echo 2>file` would redirect stderr and leave the file empty.
    const summary = await deployNode(sshNode(sshd, { name: '2', deploy: [`echo {node}>${log}`] }));
    expect(summary.ok).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('2\n');
  });
});
