import type { NodeConfig } from '../config/node-config.js';
import { shellQuote } from '../nodes/shell-quote.js';

/**
 * The commands `mesh deploy` runs on a node, in order: `{node}` becomes the
 * node's name everywhere, and a command naming `{service}` is repeated once
 * per service the node runs, in the order the config lists them.
 *
 * Each name goes in quoted for the place it lands in, so that it is one word
 * with no meaning to the shell whatever it holds: `'name'` where the
 * template is unquoted (`cd ~/code/{service}`), backslash-escaped inside
 * double quotes (`"{service}.service"`), and closing and reopening the quote
 * inside single quotes. Names are also restricted at load to letters,
 * digits, `.`, `_` and `-` (see src/config/safe-name.ts); the quoting is
 * what keeps a name from an unchecked config, or a reserved word like `if`,
 * from being read as shell syntax.
 */
export function expandDeployCommands(node: Pick<NodeConfig, 'name' | 'services' | 'deploy'>): string[] {
  const services = Object.keys(node.services);
  const commands: string[] = [];
  for (const template of node.deploy ?? []) {
    if (!template.includes('{service}')) {
      commands.push(fillPlaceholders(template, { node: node.name }));
      continue;
    }
    for (const service of services) commands.push(fillPlaceholders(template, { node: node.name, service }));
  }
  return commands;
}

type QuoteState = 'bare' | 'single' | 'double';

/**
 * Replaces `{node}` and `{service}` in a POSIX shell command, each quoted for
 * the quoting state at its place, found by reading the template as the
 * shell would (backslash escapes, single and double quotes).
 */
export function fillPlaceholders(template: string, values: { node: string; service?: string }): string {
  let out = '';
  let state: QuoteState = 'bare';
  for (let i = 0; i < template.length; i += 1) {
    const placeholder = template.startsWith('{node}', i) ? 'node' : template.startsWith('{service}', i) ? 'service' : undefined;
    const value = placeholder === undefined ? undefined : values[placeholder];
    if (placeholder !== undefined && value !== undefined) {
      out += quoteFor(state, value);
      i += placeholder.length + 1;
      continue;
    }
    const char = template[i]!;
    out += char;
    if (char === '\\' && state !== 'single' && i + 1 < template.length) {
      out += template[i + 1];
      i += 1;
    } else if (char === "'" && state !== 'double') state = state === 'single' ? 'bare' : 'single';
    else if (char === '"' && state !== 'single') state = state === 'double' ? 'bare' : 'double';
  }
  return out;
}

function quoteFor(state: QuoteState, value: string): string {
  switch (state) {
    case 'bare':
      return shellQuote(value);
    case 'double':
      // Inside double quotes only these four keep a meaning.
      return value.replace(/[\\$`"]/g, '\\$&');
    case 'single':
      // Nothing is special inside single quotes but the quote itself: close, escape it, reopen.
      return value.replaceAll("'", "'\\''");
  }
}
