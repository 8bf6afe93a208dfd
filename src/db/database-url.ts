export type DialectName = 'mysql' | 'postgres' | 'sqlite';

export type DatabaseTarget =
  | { dialect: 'mysql'; url: URL }
  | { dialect: 'postgres'; url: URL }
  | { dialect: 'sqlite'; file: string };

/** A missing or malformed database URL (exit 2, nothing written). */
export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

const FORMS = 'mysql://user:pass@host:3306/name, postgres://user:pass@host:5432/name or sqlite:./path.db';

/** Parses `--db` / `WORKMESH_DB`. The error never repeats the URL, which may hold a password. */
export function parseDatabaseUrl(raw: string | undefined): DatabaseTarget {
  if (raw === undefined || raw.trim() === '') {
    throw new DatabaseUrlError(`no database: pass --db URL or set WORKMESH_DB (${FORMS})`);
  }
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new DatabaseUrlError(`database URL: sqlite: needs a file path (sqlite:./path.db or sqlite::memory:)`);
    return { dialect: 'sqlite', file };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DatabaseUrlError(`database URL is malformed; expected ${FORMS}`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  const dialect = scheme === 'mysql' || scheme === 'mariadb' ? 'mysql' : scheme === 'postgres' || scheme === 'postgresql' ? 'postgres' : undefined;
  if (dialect === undefined) throw new DatabaseUrlError(`database URL scheme "${scheme}" is not supported; expected ${FORMS}`);
  if (url.hostname === '') throw new DatabaseUrlError(`database URL has no host; expected ${FORMS}`);
  if (url.pathname.replace(/^\//, '') === '') throw new DatabaseUrlError(`database URL names no database; expected ${FORMS}`);
  return { dialect, url };
}

/** The URL with its password masked, for messages. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.dialect === 'sqlite') return `sqlite:${target.file}`;
  const shown = new URL(target.url.href);
  if (shown.password) shown.password = '***';
  return shown.href;
}
