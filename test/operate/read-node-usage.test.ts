import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import { readNodesUsage } from '../../src/operate/read-node-usage.js';
import { freePort, RUN_SSH_SUITES, sshNode, startSilentServer, startSshd, type TestSshd } from '../helpers/sshd.js';

describe('readNodesUsage without SSH', () => {
  it('reports a node without ssh as unreachable, without trying', async () => {
    const node: NodeConfig = { name: 'plain', url: 'http://127.0.0.1:1', apiKey: 'k', services: {} };
    expect(await readNodesUsage([node])).toEqual([{ name: 'plain', reachable: false, error: 'no ssh configured' }]);
  });
});

describe.skipIf(!RUN_SSH_SUITES)('readNodesUsage against a real sshd', () => {
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('reads load, CPUs, memory and disk of a reachable node', async () => {
    const [usage] = await readNodesUsage([sshNode(sshd, { name: 'local' })]);
    expect(usage).toMatchObject({ name: 'local', reachable: true });
    expect(usage?.error).toBeUndefined();
    expect(usage?.load1).toBeGreaterThanOrEqual(0);
    expect(usage?.cpus).toBeGreaterThanOrEqual(1);
    expect(usage?.memoryUsedPercent).toBeGreaterThan(0);
    expect(usage?.memoryUsedPercent).toBeLessThanOrEqual(100);
    expect(usage?.diskUsedPercent).toBeGreaterThanOrEqual(0);
    expect(usage?.diskUsedPercent).toBeLessThanOrEqual(100);
  });

  it('reads every node at once: unreachable ones cost one connect time-out in all, not one each', async () => {
    const silent = await startSilentServer();
    try {
      const closedPort = await freePort();
      const timeoutMs = 1_000;
      const hung = ['hung-1', 'hung-2', 'hung-3', 'hung-4', 'hung-5'];
      const nodes = [
        sshNode(sshd, { name: 'up' }),
        ...hung.map((name) => sshNode(sshd, { name, ssh: { port: silent.port, connectTimeoutMs: timeoutMs } })),
        sshNode(sshd, { name: 'closed', ssh: { port: closedPort } }),
        { name: 'no-ssh', url: 'http://127.0.0.1:1', apiKey: 'k', services: {} },
      ];
      const started = Date.now();
      const usage = await readNodesUsage(nodes);
      const elapsed = Date.now() - started;
      // One after the other, the hung nodes alone would take 5 s.
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(elapsed).toBeLessThan(timeoutMs + 2_500);
      expect(usage.map((u) => [u.name, u.reachable])).toEqual([
        ['up', true],
        ...hung.map((name) => [name, false]),
        ['closed', false],
        ['no-ssh', false],
      ]);
      expect(usage[0]?.cpus).toBeGreaterThanOrEqual(1);
      expect(usage[1]?.error).toBe(`hung-1: timed out after ${timeoutMs} ms connecting to ${sshd.user}@127.0.0.1:${silent.port}`);
      expect(usage[6]?.error).toBe(`closed: connection refused by ${sshd.user}@127.0.0.1:${closedPort}`);
      expect(usage[7]?.error).toBe('no ssh configured');
    } finally {
      await silent.stop();
    }
  });
});
