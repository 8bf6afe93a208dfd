import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandDeployCommands, fillPlaceholders } from '../../src/operate/expand-deploy-commands.js';

describe('expandDeployCommands', () => {
  const services = { 'micro.emails.timeline': {}, 'micro.sms': {}, reports: {} };

  it('fills in {node} everywhere and keeps the order', () => {
    expect(expandDeployCommands({ name: 'node1', services, deploy: ['echo {node} > /tmp/{node}.txt', 'uptime'] })).toEqual([
      "echo 'node1' > /tmp/'node1'.txt",
      'uptime',
    ]);
  });

  it('runs a command naming {service} once per service, in config order, in its place', () => {
    expect(
      expandDeployCommands({
        name: 'n2',
        services,
        deploy: [
          'git -C ~/code fetch',
          'cd ~/code/{service} && make {service}',
          'systemctl restart "{service}.service" # on {node}',
          'echo done',
        ],
      }),
    ).toEqual([
      'git -C ~/code fetch',
      "cd ~/code/'micro.emails.timeline' && make 'micro.emails.timeline'",
      "cd ~/code/'micro.sms' && make 'micro.sms'",
      "cd ~/code/'reports' && make 'reports'",
      'systemctl restart "micro.emails.timeline.service" # on \'n2\'',
      'systemctl restart "micro.sms.service" # on \'n2\'',
      'systemctl restart "reports.service" # on \'n2\'',
      'echo done',
    ]);
  });

  it('runs a {service} command not at all on a node without services', () => {
    expect(expandDeployCommands({ name: 'n', services: {}, deploy: ['a', 'restart {service}', 'b'] })).toEqual(['a', 'b']);
  });

  it('quotes each name for where it lands: bare, in double quotes, in single quotes, after a backslash', () => {
    const name = `x;echo INJECTED-$(id -u)>pwned;#'"\\\``;
    expect(fillPlaceholders('a {node} b', { node: name })).toBe(`a 'x;echo INJECTED-$(id -u)>pwned;#'\\''"\\\`' b`);
    expect(fillPlaceholders('"a {node} b"', { node: name })).toBe('"a x;echo INJECTED-\\$(id -u)>pwned;#\'\\"\\\\\\` b"');
    expect(fillPlaceholders("'a {node} b'", { node: name })).toBe(`'a x;echo INJECTED-$(id -u)>pwned;#'\\''"\\\` b'`);
    // An escaped quote does not open a quoted part; a placeholder for a value not given stays as written.
    expect(fillPlaceholders("echo \\' {node} {service}", { node: 'n' })).toBe("echo \\' 'n' {service}");
  });

  it('gives nothing when the node has no deploy commands', () => {
    expect(expandDeployCommands({ name: 'n', services })).toEqual([]);
  });

  it.each(['sh', 'bash'])('every filled command hands %s the name as one word, verbatim, and runs nothing else', (shell) => {
    const names = ['x;echo INJECTED-$(id -u)>pwned;#', `a'b"c\\d\`e$HOME`, '$(touch pwned)', '`touch pwned`', '-rf', '*', '~', 'if'];
    const templates = [
      ["printf '%s\\n' {node}", (n: string) => n],
      ["printf '%s\\n' pre{node}post", (n: string) => `pre${n}post`],
      ['printf \'%s\\n\' "in {node} dq"', (n: string) => `in ${n} dq`],
      ["printf '%s\\n' 'in {node} sq'", (n: string) => `in ${n} sq`],
      ["printf '%s\\n' \\\"{node}", (n: string) => `"${n}`],
    ] as const;
    const cwd = mkdtempSync(join(tmpdir(), 'workmesh-quote-'));
    try {
      for (const name of names) {
        for (const [template, expected] of templates) {
          const [command] = expandDeployCommands({ name, services: {}, deploy: [template] });
          const output = execFileSync(shell, ['-c', command!], { cwd, encoding: 'utf8' });
          expect({ template, name, output }).toEqual({ template, name, output: `${expected(name)}\n` });
        }
      }
      expect(readdirSync(cwd)).toEqual([]);
      expect(existsSync(join(cwd, 'pwned'))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
