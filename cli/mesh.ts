#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from '../src/config/config-problem.js';
import { UnknownNameError } from '../src/config/unknown-name-error.js';
import type { MeshConfig } from '../src/config/mesh-config.js';
import { SchemaNotReadyError } from '../src/db/schema-not-ready-error.js';
import { DatabaseConnectionError, DatabaseUrlError } from '../src/db/database-url.js';
import type { Database } from '../src/db/open-database.js';
import { CapacityRefused, MoveRefused } from '../src/assign/move-refused.js';
import { UsageError, type Command, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { OPTION_TABLE, optionUsage } from './option-table.js';
import { Output } from './output.js';
import { optionsOf, parseCommandLine } from './parse-args.js';

const VERSION = '0.1.0';

// undici parses HTTP with llhttp compiled to WebAssembly, which V8 recompiles
// with its optimising tier once it runs hot; that compile holds some 36 MB of
// compiler memory for a moment, and raised mesh's peak RSS by 4-8 MB in the
// bench for no measurable speed (node answers are small). The baseline
// compiler alone is kept. Only WebAssembly compiled after this line is
// affected, and llhttp is the only WebAssembly mesh runs.
setFlagsFromString('--liftoff-only');

// A run holds up to HELD_BATCHES batches of records for its nodes (some 150 MB
// live at 1,000 nodes), and V8 let the old generation grow to four times what
// its last full collection kept before collecting again: a million records
// pushed to 1,000 nodes peaked at 600 MB of RSS for 150 MB live. Growing it by
// half at a time, the peak was 354 MB (pull 519 -> 286), in the same time; at
// 200,000 records the master spends some 5 % more CPU on collections
// (BENCHMARKS.md, fifth round of issue 15).
setFlagsFromString('--heap-growing-percent=50');

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.split('\n')[0]!.length));
  return [
    'mesh: assigns entities to nodes, pushes records, pulls results, reports.',
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage.split('\n')[0]!.padEnd(width)}  ${c.summary}`),
    '',
    'Options (each command takes its own: `mesh COMMAND --help`; any other is exit 2, nothing written):',
    '  --db URL                 the SaaS database (else WORKMESH_DB): mysql://…, postgres://…, sqlite:./file.db',
    '  --nodes-config PATH      default ./nodes.config.ts',
    '  --services-config PATH   default ./services.config.ts',
    '  --json                   one JSON document on stdout',
    "  --help                   this text, or a command's own with `mesh COMMAND --help`",
    '',
    'Exit status: 0 all done; 1 ran, but some records or nodes failed; 2 bad usage, configuration or database URL;',
    '130 after SIGINT and 143 after SIGTERM (push, pull, run). From cron: mesh run --once.',
  ].join('\n');
}

function commandHelp(command: Command): string {
  const options = optionsOf(command).map((name) => [optionUsage(name), OPTION_TABLE[name].help] as const);
  const width = Math.max(...options.map(([usage]) => usage.length));
  return [
    `Usage: ${command.usage}`,
    '',
    command.summary,
    '',
    'Options:',
    ...options.map(([usage, help]) => `  ${usage.padEnd(width)}  ${help}`),
    ...(command.details === undefined ? [] : ['', command.details]),
  ].join('\n');
}

/** Set when loading a config file was given up on: code of its own may still hold the event loop. */
let configGivenUp = false;

async function main(argv: string[]): Promise<number> {
  let out = new Output({ json: argv.includes('--json') });
  let database: Database | undefined;
  try {
    const parsed = parseCommandLine(argv, COMMANDS);
    out = new Output({ json: Boolean(parsed.options.json), quiet: Boolean(parsed.options.quiet) });
    if (parsed.options.version && parsed.name === undefined) {
      out.line(VERSION);
      return 0;
    }
    const command: Command | undefined = parsed.command;
    if (parsed.name === undefined || (parsed.options.help && command === undefined)) {
      out.line(generalHelp());
      return parsed.options.help ? 0 : 2;
    }
    if (command === undefined) throw new UsageError(`unknown command "${parsed.name}"; see mesh --help`);
    if (parsed.options.help) {
      out.line(commandHelp(command));
      return 0;
    }
    let config: Promise<MeshConfig> | undefined;
    let schemaChecked = false;
    const ctx: CommandContext = {
      options: parsed.options,
      positionals: parsed.positionals,
      rest: parsed.rest,
      out,
      // The engine's modules are imported when a command first needs them: `mesh --help` loads none.
      config: () =>
        (config ??= import('../src/config/load-config.js').then(({ loadConfig }) =>
          loadConfig(
            {
              ...(parsed.options['nodes-config'] !== undefined && { nodes: parsed.options['nodes-config'] }),
              ...(parsed.options['services-config'] !== undefined && { services: parsed.options['services-config'] }),
            },
            undefined,
            { onWarning: (message) => out.error(`mesh: warning: ${message}`) },
          ),
        )),
      database: async (options = {}) => {
        const config = options.unchecked ? undefined : await ctx.config();
        const { openDatabase } = await import('../src/db/open-database.js');
        // Only migrate may create a SQLite file; for any other command a missing one is a typo (exit 2).
        database ??= await openDatabase(parsed.options.db ?? process.env.WORKMESH_DB, { mustExist: command.name !== 'migrate' });
        if (config && !schemaChecked) {
          const { checkSchema } = await import('../src/db/check-schema.js');
          await checkSchema(database, config);
          schemaChecked = true;
        }
        return database;
      },
    };
    const run = await command.load();
    return await run(ctx);
  } catch (error) {
    if (error instanceof ConfigError && error.givenUp) configGivenUp = true;
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof DatabaseUrlError ||
      error instanceof DatabaseConnectionError ||
      error instanceof MoveRefused ||
      error instanceof UnknownNameError ||
      error instanceof SchemaNotReadyError
    ) {
      out.error(`mesh: ${error.message}`);
      return 2;
    }
    if (error instanceof CapacityRefused) {
      // Understood and refused by the nodes' limits: the operation failed, the usage was right.
      out.error(`mesh: ${error.message}`);
      return 1;
    }
    out.error(`mesh: ${(error as Error).message ?? String(error)}`);
    return 1;
  } finally {
    await database?.close().catch(() => undefined);
  }
}

// A reader that went away (`mesh push | head -1`, `mesh failed --json | true`) is no failure of mesh:
// what is left to print is dropped (output.ts), and push, pull and run stop after the batches in flight.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
    if (configGivenUp) process.exit();
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
