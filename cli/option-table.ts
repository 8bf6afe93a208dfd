/**
 * Every option `mesh` knows, with the text `--help` shows for it. Each
 * command declares which of them it takes (cli/commands/index.ts); the
 * parser refuses the others, so that an option a command would ignore
 * (`mesh assign --dry-run` before v1.1) is never taken for done.
 */
export const OPTION_TABLE = {
  nodes: { type: 'boolean', help: 'the nodes report' },
  services: { type: 'boolean', help: 'the services report' },
  db: { type: 'string', value: 'URL', help: 'the SaaS database (else WORKMESH_DB): mysql://…, postgres://…, sqlite:./file.db' },
  'nodes-config': { type: 'string', value: 'PATH', help: 'default ./nodes.config.ts' },
  'services-config': { type: 'string', value: 'PATH', help: 'default ./services.config.ts' },
  json: { type: 'boolean', help: 'one JSON document on stdout, nothing else there' },
  help: { type: 'boolean', short: 'h', help: 'this text' },
  version: { type: 'boolean', help: 'the version of mesh' },
  ssh: { type: 'boolean', help: 'adds reachability, CPU load, memory and disk use read over SSH' },
  service: { type: 'string', value: 'S', help: 'the service (where it is optional: only this service)' },
  node: { type: 'string', value: 'N', help: 'the node (where it is optional: only this node)' },
  entity: {
    type: 'string',
    value: 'ID',
    help: "the entity's id (where it is optional: only this entity; with --service S when several are configured)",
  },
  protocol: { type: 'string', value: 'P', help: 'only this protocol' },
  to: { type: 'string', value: 'NODE', help: 'the node to move to' },
  from: { type: 'string', value: 'NODE', help: 'the node name to replace' },
  repush: { type: 'boolean', help: "clears the push and pull flags of the moved entities' records: all are sent again to the new node" },
  'dry-run': { type: 'boolean', help: 'prints what would change and writes nothing' },
  every: { type: 'string', value: 'DURATION', help: 'the interval of the loop: 500ms, 60s, 5m, 1h (at most 596h)' },
  once: { type: 'boolean', help: 'one cycle, assign → push → pull, then exits: the command for cron' },
  quiet: { type: 'boolean', help: 'nothing on stdout when all went well; failures still on stderr' },
  all: { type: 'boolean', help: 'every node that declares deploy commands' },
  concurrency: { type: 'string', value: 'N', help: 'streams (push, pull) or nodes (deploy) worked at once: 1 to 256' },
  now: { type: 'boolean', help: 'tries a node in back-off at once instead of waiting for its next try' },
  port: { type: 'string', value: 'PORT', help: 'the port to serve on (0 to 65535; 0 picks a free one)' },
  host: { type: 'string', value: 'HOST', help: 'the address to bind; a non-loopback one needs WORKMESH_DASHBOARD_TOKEN' },
} as const satisfies Record<string, OptionSpec>;

export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  /** The value's placeholder in help texts, for a string option. */
  value?: string;
  help: string;
}

export type OptionName = keyof typeof OPTION_TABLE;

/** `--service S`, `--dry-run`. */
export function optionUsage(name: OptionName): string {
  const spec: OptionSpec = OPTION_TABLE[name];
  return spec.value === undefined ? `--${name}` : `--${name} ${spec.value}`;
}

/** Options every command that reads the configuration takes. */
export const CONFIG_OPTIONS = ['nodes-config', 'services-config'] as const satisfies readonly OptionName[];
/** Options every command that opens the SaaS database takes. */
export const DATABASE_OPTIONS = ['db', ...CONFIG_OPTIONS] as const satisfies readonly OptionName[];
/** Options every command takes. */
export const COMMON_OPTIONS = ['json', 'help'] as const satisfies readonly OptionName[];
