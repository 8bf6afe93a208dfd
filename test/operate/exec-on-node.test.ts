import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshError } from '../../src/nodes/ssh-client.js';
import { execOnNode } from '../../src/operate/exec-on-node.js';
import { freePort, RUN_SSH_SUITES, sshNode, startSshd, type TestSshd } from '../helpers/sshd.js';

describe.skipIf(!RUN_SSH_SUITES)('execOnNode against a real sshd', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('runs one command and gives its exit status and output, passing chunks on as they come', async () => {
    const chunks: [string, string][] = [];
    const result = await execOnNode(sshNode(sshd, { name: 'x' }), 'printf "a\\nb"; printf oops >&2; exit 5', {
      onOutput: (stream, text) => chunks.push([stream, text]),
    });
    expect(result).toEqual({ node: 'x', exitCode: 5, signal: null, stdout: 'a\nb', stderr: 'oops' });
    expect(
      chunks
        .filter(([s]) => s === 'stdout')
        .map(([, t]) => t)
        .join(''),
    ).toBe('a\nb');
    expect(
      chunks
        .filter(([s]) => s === 'stderr')
        .map(([, t]) => t)
        .join(''),
    ).toBe('oops');
  });

  it('throws an SshError naming the node when it cannot connect', async () => {
    const port = await freePort();
    await expect(execOnNode(sshNode(sshd, { name: 'gone', ssh: { port } }), 'true')).rejects.toSatisfy(
      (error) => error instanceof SshError && error.reason === 'connection-refused' && error.message.startsWith('gone: '),
    );
  });
});
