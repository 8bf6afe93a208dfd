import { parseArgs } from 'node:util';
import { UsageError, type Command, type MeshOptions } from './command.js';
import { parseDuration, parseWholeNumber } from './parse-number.js';
import { COMMON_OPTIONS, OPTION_TABLE, optionUsage, type OptionName } from './option-table.js';

export interface ParsedCommandLine {
  /** The command word, or `nodes` / `services` for the two reports, or undefined for none. */
  name: string | undefined;
  /** The command it names; undefined for none or an unknown word. */
  command: Command | undefined;
  options: MeshOptions;
  positionals: string[];
  rest: string[];
}

/** Every option a command takes, its own and the common ones, in the order `--help` lists them. */
export function optionsOf(command: Command): OptionName[] {
  return [...new Set([...command.options, ...COMMON_OPTIONS])];
}

/** `--service S, --dry-run, --json, ...`: what a usage error lists. */
export function describeOptions(command: Command): string {
  return optionsOf(command).map(optionUsage).join(', ');
}

/**
 * Parses in two passes: the first, over every option mesh knows, only finds
 * the command word (so that an option's value is never taken for it); the
 * second parses strictly with that command's own options. An option, word or
 * `--` the command does not take is a UsageError (exit 2) before anything is
 * read or written.
 */
export function parseCommandLine(argv: string[], commands: readonly Command[]): ParsedCommandLine {
  const dashDash = argv.indexOf('--');
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const rest = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const first = parseArgs({ args: own, options: OPTION_TABLE, allowPositionals: true, strict: false, tokens: true });
  const loose = first.values as Record<string, unknown>;
  let name = first.positionals[0];
  if (name === undefined) {
    if (loose.nodes && loose.services) throw new UsageError('--nodes and --services are two reports: ask for one');
    if (loose.nodes) name = 'nodes';
    else if (loose.services) name = 'services';
  }
  const reports = new Set(['nodes', 'services']);
  // `mesh nodes` is not `mesh --nodes`: the reports are asked for by their option only.
  const command = commands.find((c) => c.name === name && (first.positionals[0] === undefined || !reports.has(name)));
  if (command === undefined || loose.help) {
    // General help, `mesh --version`, an unknown command, or a command's own help: nothing else is looked at.
    return { name, command, options: { help: Boolean(loose.help), version: Boolean(loose.version) }, positionals: [], rest: [] };
  }
  const allowed = new Set<string>(optionsOf(command));
  const takes = `mesh ${label(command)} takes ${describeOptions(command)}`;
  for (const token of first.tokens) {
    if (token.kind !== 'option' || allowed.has(token.name)) continue;
    throw new UsageError(`unknown option ${token.rawName} for mesh ${label(command)}; ${takes}`);
  }
  const table = Object.fromEntries([...allowed].map((option) => [option, OPTION_TABLE[option as OptionName]]));
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: table, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\. To specify a positional.*$/s, '')} (mesh ${label(command)})`);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice`);
    seen.add(token.name);
  }
  // The report commands have no word: `mesh --nodes`; the others have theirs first.
  const positionals = command.name === 'nodes' || command.name === 'services' ? parsed.positionals : parsed.positionals.slice(1);
  if (command.words === undefined) {
    if (positionals.length > 0) throw new UsageError(`unexpected word "${positionals[0]}" for mesh ${label(command)}; ${takes}`);
    if (dashDash !== -1) throw new UsageError(`mesh ${label(command)} takes nothing after "--"; ${takes}`);
  }
  const options = parsed.values as MeshOptions;
  // Values are checked here, before any configuration or database is touched; the commands read them again.
  if (options.concurrency !== undefined) parseWholeNumber(options.concurrency, '--concurrency', 1, 256);
  if (options.every !== undefined) parseDuration(options.every, '--every');
  return { name, command, options, positionals, rest };
}

/** `push`, or `--nodes` for a report. */
function label(command: Command): string {
  return command.name === 'nodes' || command.name === 'services' ? `--${command.name}` : command.name;
}
