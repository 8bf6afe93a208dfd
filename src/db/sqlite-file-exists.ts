import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseUrlError, type DatabaseTarget } from './database-url.js';

/**
 * SQLite creates a missing file on open, so a typo in `--db sqlite:./saas.db`
 * would leave an empty database behind, and every command but `migrate` would
 * then fail against it (or report zero of everything). Commands that read or
 * work an existing database refuse a missing file instead, creating nothing;
 * `mesh migrate` and `mesh demo` create theirs.
 */
export function refuseMissingSqliteFile(target: DatabaseTarget): void {
  if (target.dialect !== 'sqlite' || target.file === ':memory:') return;
  const file = resolve(target.file);
  if (existsSync(file)) return;
  throw new DatabaseUrlError(`database sqlite:${target.file}: no such file (${file}); check the path, or create it with mesh migrate`);
}
