#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from '../src/config/config-problem.js';
import { UnknownNameError } from '../src/config/unknown-name-error.js';
import type { MeshConfig } from '../src/config/mesh-config.js';
import { SchemaNotReadyError } from '../src/db/schema-not-ready-error.js';
import { DatabaseConnectionError, DatabaseUrlError } from '../src/db/database-url.js';
import type { Database } from '../src/db/open-database.js';
import { MoveRefused } from '../src/assign/move-refused.js';
import { UsageError, type Command, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { Output } from './output.js';
import { parseCommandLine } from './parse-args.js';

const VERSION = '0.1.0';

// undici parses HTTP with llhttp compiled to WebAssembly, which V8 recompiles
// with its optimising tier once it runs hot; that compile holds some 36 MB of
// compiler memory for a moment, and raised mesh's peak RSS by 4-8 MB in the
// bench for no measurable speed (node answers are small). The baseline
// compiler alone is kept. Only WebAssembly compiled after this line is
// affected, and llhttp is the only WebAssembly mesh runs.
setFlagsFromString('--liftoff-only');

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.split('\n')[0]!.length));
  return [
    'mesh: assigns entities to nodes, pushes records, pulls results, reports.',
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage.split('\n')[0]!.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  --db URL                 the SaaS database (else WORKMESH_DB): mysql://…, postgres://…, sqlite:./file.db',
    '  --nodes-config PATH      default ./nodes.config.ts',
    '  --services-config PATH   default ./services.config.ts',
    '  --json                   one JSON document on stdout',
    '  --help                   this text, or a command\'s own with `mesh COMMAND --help`',
    '',
    'Exit status: 0 all done; 1 ran, but some records or nodes failed; 2 bad usage, configuration or database URL.',
  ].join('\n');
}

/** Set when loading a config file was given up on: code of its own may still hold the event loop. */
let configGivenUp = false;

async function main(argv: string[]): Promise<number> {
  let out = new Output({ json: argv.includes('--json') });
  let database: Database | undefined;
  try {
    const parsed = parseCommandLine(argv);
    out = new Output({ json: Boolean(parsed.options.json) });
    if (parsed.options.version) {
      out.line(VERSION);
      return 0;
    }
    const command: Command | undefined = COMMANDS.find((c) => c.name === parsed.command);
    if (parsed.command === undefined || (parsed.options.help && command === undefined)) {
      out.line(generalHelp());
      return parsed.options.help ? 0 : 2;
    }
    if (command === undefined) throw new UsageError(`unknown command "${parsed.command}"; see mesh --help`);
    if (parsed.options.help) {
      out.line(`Usage: ${command.usage}\n\n${command.summary}`);
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
    out.error(`mesh: ${(error as Error).message ?? String(error)}`);
    return 1;
  } finally {
    await database?.close().catch(() => undefined);
  }
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
