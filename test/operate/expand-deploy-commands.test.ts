import { describe, expect, it } from 'vitest';
import { expandDeployCommands } from '../../src/operate/expand-deploy-commands.js';

describe('expandDeployCommands', () => {
  const services = { 'micro.emails.timeline': {}, 'micro.sms': {}, reports: {} };

  it('fills in {node} everywhere and keeps the order', () => {
    expect(
      expandDeployCommands({ name: 'node1', services, deploy: ['echo {node} > /tmp/{node}.txt', 'uptime'] }),
    ).toEqual(['echo node1 > /tmp/node1.txt', 'uptime']);
  });

  it('runs a command naming {service} once per service, in config order, in its place', () => {
    expect(
      expandDeployCommands({
        name: 'n2',
        services,
        deploy: ['git -C ~/code fetch', 'cd ~/code/{service} && make {service}', 'systemctl restart {service} # on {node}', 'echo done'],
      }),
    ).toEqual([
      'git -C ~/code fetch',
      'cd ~/code/micro.emails.timeline && make micro.emails.timeline',
      'cd ~/code/micro.sms && make micro.sms',
      'cd ~/code/reports && make reports',
      'systemctl restart micro.emails.timeline # on n2',
      'systemctl restart micro.sms # on n2',
      'systemctl restart reports # on n2',
      'echo done',
    ]);
  });

  it('runs a {service} command not at all on a node without services', () => {
    expect(expandDeployCommands({ name: 'n', services: {}, deploy: ['a', 'restart {service}', 'b'] })).toEqual(['a', 'b']);
  });

  it('gives nothing when the node has no deploy commands', () => {
    expect(expandDeployCommands({ name: 'n', services })).toEqual([]);
  });
});
