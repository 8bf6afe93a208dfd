import type { MeshConfig } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import type { Output } from './output.js';

/** Every option `mesh` knows; each command reads the ones it takes. */
export interface MeshOptions {
  nodes?: boolean;
  services?: boolean;
  json?: boolean;
  ssh?: boolean;
  help?: boolean;
  version?: boolean;
  db?: string;
  'nodes-config'?: string;
  'services-config'?: string;
  service?: string;
  entity?: string;
  node?: string;
  to?: string;
  repush?: boolean;
  'dry-run'?: boolean;
  every?: string;
  all?: boolean;
  concurrency?: string;
  port?: string;
  host?: string;
}

export interface CommandContext {
  options: MeshOptions;
  /** Positionals after the command name. */
  positionals: string[];
  /** Words after a bare `--` (for `mesh exec`). */
  rest: string[];
  out: Output;
  /** Loads and validates the configuration; throws ConfigError (exit 2). */
  config(): Promise<MeshConfig>;
  /**
   * Opens the database from --db or WORKMESH_DB (a bad URL: exit 2) and checks
   * that `mesh migrate` prepared it for the configuration (else exit 2 with
   * what is missing), unless `unchecked`. Closed by mesh.
   */
  database(options?: { unchecked?: boolean }): Promise<Database>;
}

/** Runs a command; returns the exit status: 0 all done, 1 some records or nodes failed, 2 bad usage. */
export type RunCommand = (ctx: CommandContext) => Promise<number>;

export interface Command {
  name: string;
  /** One line for `mesh --help`. */
  summary: string;
  /** Usage line(s), shown by `mesh <command> --help`. */
  usage: string;
  /** Imports the command's module (and with it the engine parts it needs) only when it runs. */
  load(): Promise<RunCommand>;
}

/** Bad usage: exit 2, nothing written. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function requireOption(ctx: CommandContext, name: 'service' | 'entity' | 'node'): string {
  const value = ctx.options[name];
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}
