import type { Migration } from 'kysely';
import * as ownTables from './0001-own-tables.js';
import * as nodeHealth from './0002-node-health.js';
import * as streamHistory from './0003-stream-history.js';
import * as recordCounts from './0004-record-counts.js';

/** The package's own migrations, by name; names sort in the order they run. */
export const OWN_MIGRATIONS: Record<string, Migration> = {
  '0001-own-tables': ownTables,
  '0002-node-health': nodeHealth,
  '0003-stream-history': streamHistory,
  '0004-record-counts': recordCounts,
};
