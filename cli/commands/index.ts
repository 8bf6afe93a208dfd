import type { Command } from '../command.js';
import { assignCommand } from './assign.js';
import { demoCommand } from './demo.js';
import { deployCommand } from './deploy.js';
import { drainCommand } from './drain.js';
import { execCommand } from './exec.js';
import { failedCommand } from './failed.js';
import { migrateCommand } from './migrate.js';
import { nodesReportCommand } from './nodes-report.js';
import { pullCommand } from './pull.js';
import { pushCommand } from './push.js';
import { reassignCommand } from './reassign.js';
import { rebalanceCommand } from './rebalance.js';
import { retryCommand } from './retry.js';
import { runCommand } from './run.js';
import { servicesReportCommand } from './services-report.js';
import { statusCommand } from './status.js';

/** Every `mesh` command, in the order `mesh --help` lists them. */
export const COMMANDS: Command[] = [
  nodesReportCommand,
  servicesReportCommand,
  migrateCommand,
  assignCommand,
  reassignCommand,
  drainCommand,
  rebalanceCommand,
  pushCommand,
  pullCommand,
  statusCommand,
  failedCommand,
  retryCommand,
  runCommand,
  deployCommand,
  execCommand,
  demoCommand,
];
