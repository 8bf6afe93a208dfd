import type { Command } from '../command.js';

/** Most failed records `mesh failed` lists per protocol. */
export const FAILED_LIST_LIMIT = 100;

/**
 * Every `mesh` command, in the order `mesh --help` lists them. A command's
 * module is imported only when it runs: `mesh push` does not load the SSH
 * client, `mesh --help` loads no database driver.
 */
export const COMMANDS: Command[] = [
  {
    name: 'nodes',
    summary: 'one row per node: name, url, services, entities, weight, pending, failed, processed, health (ok or failing since); --ssh adds reachability and usage',
    usage: 'mesh --nodes [--ssh] [--json]',
    load: async () => (await import('./nodes-report.js')).run,
  },
  {
    name: 'services',
    summary: 'one row per service: service, nodes, entities, unassigned, pending, failed, processed',
    usage: 'mesh --services [--json]',
    load: async () => (await import('./services-report.js')).run,
  },
  {
    name: 'migrate',
    summary: 'creates the package\'s tables and adds missing flag columns and indexes; --dry-run prints the SQL',
    usage: 'mesh migrate [--dry-run]',
    load: async () => (await import('./migrate.js')).run,
  },
  {
    name: 'assign',
    summary: 'assigns every unassigned entity by the service\'s criterion',
    usage: 'mesh assign [--service S]',
    load: async () => (await import('./assign.js')).run,
  },
  {
    name: 'reassign',
    summary: 'moves one entity; --repush sends all its records again to the new node',
    usage: 'mesh reassign --service S --entity ID [--to NODE] [--repush]',
    load: async () => (await import('./reassign.js')).run,
  },
  {
    name: 'drain',
    summary: 'moves every entity off a node (a node being removed)',
    usage: 'mesh drain --node N [--service S] [--repush]',
    load: async () => (await import('./drain.js')).run,
  },
  {
    name: 'rebalance',
    summary: 'evens the load out after nodes were added, moving as few entities as it can; prints the moves',
    usage: 'mesh rebalance [--service S] [--dry-run]',
    load: async () => (await import('./rebalance.js')).run,
  },
  {
    name: 'push',
    summary: 'pushes pending records to their nodes, in (sort, id) order, in batches; --now calls nodes in back-off at once',
    usage: 'mesh push [--service S] [--node N] [--now] [--concurrency N]',
    load: async () => (await import('./push.js')).run,
  },
  {
    name: 'pull',
    summary: 'pulls the results of processed records from their nodes and stores them; --now calls nodes in back-off at once',
    usage: 'mesh pull [--service S] [--node N] [--now] [--concurrency N]',
    load: async () => (await import('./pull.js')).run,
  },
  {
    name: 'status',
    summary: 'where one entity stands: its node, and per protocol its pending, failed and processed records',
    usage: 'mesh status --service S --entity ID',
    load: async () => (await import('./status.js')).run,
  },
  {
    name: 'failed',
    summary: `lists failed records, dead ones included (at most ${FAILED_LIST_LIMIT} per protocol), oldest first`,
    usage: 'mesh failed [--service S] [--node N]',
    load: async () => (await import('./failed.js')).run,
  },
  {
    name: 'retry',
    summary: 'makes dead records (failed maxAttempts times) pending again; the next push sends them',
    usage: 'mesh retry [--service S] [--node N]',
    load: async () => (await import('./retry.js')).run,
  },
  {
    name: 'run',
    summary: 'loops assign → push → pull every interval until SIGTERM, which it obeys after the batch in flight',
    usage: 'mesh run --every 60s [--concurrency N]',
    load: async () => (await import('./run.js')).run,
  },
  {
    name: 'deploy',
    summary: "runs the node's deploy commands over SSH",
    usage: 'mesh deploy --node N | --all [--concurrency 4]',
    load: async () => (await import('./deploy.js')).run,
  },
  {
    name: 'exec',
    summary: 'runs one command on a node over SSH',
    usage: 'mesh exec --node N -- CMD [ARG...]',
    load: async () => (await import('./exec.js')).run,
  },
  {
    name: 'demo',
    summary: 'a self-contained tour on an embedded SQLite database and three local nodes',
    usage: 'mesh demo',
    load: async () => (await import('./demo.js')).run,
  },
];
