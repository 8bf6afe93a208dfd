import { parseArgs } from 'node:util';
import { UsageError, type MeshOptions } from './command.js';

const OPTIONS = {
  nodes: { type: 'boolean' },
  services: { type: 'boolean' },
  json: { type: 'boolean' },
  ssh: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  db: { type: 'string' },
  'nodes-config': { type: 'string' },
  'services-config': { type: 'string' },
  service: { type: 'string' },
  entity: { type: 'string' },
  node: { type: 'string' },
  to: { type: 'string' },
  repush: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  every: { type: 'string' },
  all: { type: 'boolean' },
  concurrency: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
} as const;

export interface ParsedCommandLine {
  /** The command word, or `nodes` / `services` for the two reports, or undefined for none. */
  command: string | undefined;
  options: MeshOptions;
  positionals: string[];
  rest: string[];
}

export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const options = parsed.values as MeshOptions;
  const [word, ...positionals] = parsed.positionals;
  let command = word;
  if (command === undefined) {
    if (options.nodes && options.services) throw new UsageError('--nodes and --services are two reports: ask for one');
    if (options.nodes) command = 'nodes';
    else if (options.services) command = 'services';
  }
  return { command, options, positionals, rest };
}
