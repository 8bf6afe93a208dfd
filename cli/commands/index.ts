import type { Command } from '../command.js';
import { CONFIG_OPTIONS, DATABASE_OPTIONS } from '../option-table.js';

/** Most failed records `mesh failed` lists per protocol. */
export const FAILED_LIST_LIMIT = 100;

const WRITES = 'Exit status: 0 done; 1 some entities could not be moved (why on stderr); 2 bad usage or configuration, nothing written.';
const STAGE =
  'Exit status: 0 all done; 1 some records or nodes failed (each on stderr); 2 bad usage, configuration or database URL;\n' +
  '130 after SIGINT, 143 after SIGTERM: the batches in flight are finished first, and the summary says "interrupted".';

/**
 * Every `mesh` command, in the order `mesh --help` lists them, with the
 * options each takes (cli/option-table.ts): any other is exit 2. A command's
 * module is imported only when it runs: `mesh push` does not load the SSH
 * client, `mesh --help` loads no database driver.
 */
export const COMMANDS: Command[] = [
  {
    name: 'nodes',
    summary:
      'one row per node and service: load beside the limits, pending, failed, processed (where it was done); HEALTH ok or failing since; --ssh adds reachability and usage',
    usage: 'mesh --nodes [--service S] [--node N] [--ssh] [--json]',
    options: ['nodes', 'service', 'node', 'ssh', ...DATABASE_OPTIONS],
    details: 'ENTITIES and WEIGHT read 3/5 for 3 of a limit of 5. A record delivered to a node counts there even after its entity moved.',
    load: async () => (await import('./nodes-report.js')).run,
  },
  {
    name: 'services',
    summary: 'one row per service: service, nodes, entities, unassigned, pending, failed, processed',
    usage: 'mesh --services [--service S] [--json]',
    options: ['services', 'service', ...DATABASE_OPTIONS],
    load: async () => (await import('./services-report.js')).run,
  },
  {
    name: 'migrate',
    summary: "creates the package's tables and adds missing flag columns and indexes; --dry-run prints the SQL",
    usage: 'mesh migrate [--dry-run]',
    options: ['dry-run', ...DATABASE_OPTIONS],
    details: 'Exit status: 0 done (or nothing to do); 2 a configured table or column is missing, nothing written.',
    load: async () => (await import('./migrate.js')).run,
  },
  {
    name: 'assign',
    summary: "assigns every unassigned entity by the service's criterion",
    usage: 'mesh assign [--service S] [--dry-run] [--quiet]',
    options: ['service', 'dry-run', 'quiet', ...DATABASE_OPTIONS],
    details: 'Exit status: 0 all placed; 1 some entities stay unassigned (why on stderr); 2 bad usage or configuration, nothing written.',
    load: async () => (await import('./assign.js')).run,
  },
  {
    name: 'reassign',
    summary: 'moves one entity; --repush sends all its records again to the new node',
    usage: 'mesh reassign --service S --entity ID [--to NODE] [--repush] [--dry-run]',
    options: ['service', 'entity', 'to', 'repush', 'dry-run', ...DATABASE_OPTIONS],
    details:
      'Exit status: 0 moved; 1 refused because no node can take it (no room, no other node runs the service), nothing written;\n' +
      '2 bad usage: unknown service, entity or node, or already on --to, nothing written.',
    load: async () => (await import('./reassign.js')).run,
  },
  {
    name: 'drain',
    summary: 'moves every entity off a node (a node being removed, or one gone from nodes.config.ts)',
    usage: 'mesh drain --node N [--service S] [--repush] [--dry-run]',
    options: ['node', 'service', 'repush', 'dry-run', ...DATABASE_OPTIONS],
    details: WRITES,
    load: async () => (await import('./drain.js')).run,
  },
  {
    name: 'rebalance',
    summary: 'evens the load out after nodes were added, moving as few entities as it can; prints the moves',
    usage: 'mesh rebalance [--service S] [--dry-run]',
    options: ['service', 'dry-run', ...DATABASE_OPTIONS],
    details: WRITES,
    load: async () => (await import('./rebalance.js')).run,
  },
  {
    name: 'rename-node',
    summary: 'renames a node in the entity node columns and the push_node flags, in one transaction, after nodes.config.ts was changed',
    usage: 'mesh rename-node --from OLD --to NEW [--dry-run]',
    options: ['from', 'to', 'dry-run', ...DATABASE_OPTIONS],
    details:
      'NEW must be in nodes.config.ts and OLD no longer; results delivered to OLD are then pulled from NEW.\n' +
      'Exit status: 0 renamed; 2 bad usage or configuration, nothing written.',
    load: async () => (await import('./rename-node.js')).run,
  },
  {
    name: 'push',
    summary: 'pushes pending records to their nodes, in (sort, id) order, in batches; --now calls nodes in back-off at once',
    usage: 'mesh push [--service S] [--node N] [--concurrency N] [--now] [--quiet]',
    options: ['service', 'node', 'concurrency', 'now', 'quiet', ...DATABASE_OPTIONS],
    details: STAGE,
    load: async () => (await import('./push.js')).run,
  },
  {
    name: 'pull',
    summary: 'pulls the results of processed records from their nodes and stores them; --now calls nodes in back-off at once',
    usage: 'mesh pull [--service S] [--node N] [--concurrency N] [--now] [--quiet]',
    options: ['service', 'node', 'concurrency', 'now', 'quiet', ...DATABASE_OPTIONS],
    details: STAGE,
    load: async () => (await import('./pull.js')).run,
  },
  {
    name: 'status',
    summary: 'where one entity stands: its node, and per protocol its pending, failed and processed records',
    usage: 'mesh status --service S --entity ID [--protocol P]',
    options: ['service', 'entity', 'protocol', ...DATABASE_OPTIONS],
    load: async () => (await import('./status.js')).run,
  },
  {
    name: 'failed',
    summary: `lists failed records, dead ones included (at most ${FAILED_LIST_LIMIT} per protocol), oldest first`,
    usage: 'mesh failed [--service S] [--node N] [--protocol P] [--entity ID]',
    options: ['service', 'node', 'protocol', 'entity', ...DATABASE_OPTIONS],
    load: async () => (await import('./failed.js')).run,
  },
  {
    name: 'retry',
    summary: 'makes dead records (failed maxAttempts times) pending again; the next push sends them',
    usage: 'mesh retry [--service S] [--node N] [--protocol P] [--entity ID] [--dry-run]',
    options: ['service', 'node', 'protocol', 'entity', 'dry-run', ...DATABASE_OPTIONS],
    load: async () => (await import('./retry.js')).run,
  },
  {
    name: 'recount',
    summary: 'rebuilds the counters the reports read, from the records themselves, and says what it corrected',
    usage: 'mesh recount [--service S] [--dry-run] [--json]',
    options: ['service', 'dry-run', ...DATABASE_OPTIONS],
    details:
      'The reports keep processed and failed records as counters written with the flags; run it after records were deleted\n' +
      'or their flags changed behind mesh, or after a protocol was pointed at another table. Exit status: 0 done; 2 bad usage.',
    load: async () => (await import('./recount.js')).run,
  },
  {
    name: 'metrics',
    summary: "prints the metrics in Prometheus' text exposition format (for node_exporter's textfile collector)",
    usage: 'mesh metrics',
    options: [...DATABASE_OPTIONS],
    load: async () => (await import('./metrics.js')).run,
  },
  {
    name: 'dashboard',
    summary: 'serves the web dashboard and /metrics; retries from the page need WORKMESH_DASHBOARD_TOKEN',
    usage: 'mesh dashboard [--port 4545] [--host 127.0.0.1]',
    options: ['port', 'host', ...DATABASE_OPTIONS],
    details: 'Exit status: 130 after SIGINT, 143 after SIGTERM (the way it stops); 2 bad usage, a non-loopback --host without a token.',
    load: async () => (await import('./dashboard.js')).run,
  },
  {
    name: 'run',
    summary: 'assign → push → pull: once (--once, for cron) or every interval until SIGTERM; unplaced entities never stop push and pull',
    usage: 'mesh run --once [--quiet] | --every 60s [--concurrency N]',
    options: ['once', 'every', 'concurrency', 'quiet', ...DATABASE_OPTIONS],
    details:
      '--once prints nothing on stdout when all went well and stdout is not a terminal (as from cron), as --quiet does.\n' +
      'Exit status: 0 all done; 1 some records or nodes failed, or some entities stay unassigned (each on stderr);\n' +
      '2 bad usage, configuration or database URL; 130 after SIGINT, 143 after SIGTERM (after the batches in flight).',
    load: async () => (await import('./run.js')).run,
  },
  {
    name: 'deploy',
    summary: "runs the node's deploy commands over SSH",
    usage: 'mesh deploy --node N | --all [--concurrency 4]',
    options: ['node', 'all', 'concurrency', ...CONFIG_OPTIONS],
    load: async () => (await import('./deploy.js')).run,
  },
  {
    name: 'exec',
    summary: 'runs one command on a node over SSH',
    usage: 'mesh exec --node N -- CMD [ARG...]',
    options: ['node', ...CONFIG_OPTIONS],
    words: 'CMD [ARG...]: the command to run, after --',
    load: async () => (await import('./exec.js')).run,
  },
  {
    name: 'demo',
    summary: 'a self-contained tour on an embedded SQLite database and three local nodes',
    usage: 'mesh demo',
    options: [],
    load: async () => (await import('./demo.js')).run,
  },
];
