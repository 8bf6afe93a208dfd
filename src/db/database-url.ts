export type DialectName = 'mysql' | 'postgres' | 'sqlite';

export type DatabaseTarget = { dialect: 'mysql'; url: URL } | { dialect: 'postgres'; url: URL } | { dialect: 'sqlite'; file: string };

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
  const dialect =
    scheme === 'mysql' || scheme === 'mariadb' ? 'mysql' : scheme === 'postgres' || scheme === 'postgresql' ? 'postgres' : undefined;
  if (dialect === undefined) throw new DatabaseUrlError(`database URL scheme "${scheme}" is not supported; expected ${FORMS}`);
  if (url.hostname === '') throw new DatabaseUrlError(`database URL has no host; expected ${FORMS}`);
  if (url.pathname.replace(/^\//, '') === '') throw new DatabaseUrlError(`database URL names no database; expected ${FORMS}`);
  // The drivers decode these and would throw a bare `URIError: URI malformed`.
  for (const [part, value] of [
    ['user name', url.username],
    ['password', url.password],
    ['database name', url.pathname],
  ] as const) {
    try {
      decodeURIComponent(value);
    } catch {
      throw new DatabaseUrlError(
        `database URL: the ${part} is not valid percent-encoding (a % must be followed by two hex digits; write %25 for %)`,
      );
    }
  }
  return { dialect, url };
}

/**
 * The database refused the connection for a reason the configuration must
 * fix (exit 2, nothing written): an unknown database, access denied, a host
 * that does not exist, a SQLite file that cannot be opened. The message names
 * the database without its password.
 */
export class DatabaseConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseConnectionError';
  }
}

/** Driver error codes that mean the URL is wrong, not that the server is down for now. */
const CONFIGURATION_CODES = new Set([
  // MySQL/MariaDB: unknown database, access denied (to the server, to the database).
  'ER_BAD_DB_ERROR',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_NOT_SUPPORTED_AUTH_MODE',
  // PostgreSQL: invalid_catalog_name, invalid_password, invalid_authorization_specification.
  '3D000',
  '28P01',
  '28000',
  // Either: the host name does not resolve.
  'ENOTFOUND',
  // SQLite: the file cannot be opened or is not a database.
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
]);

/**
 * The error a failed first connection becomes: a DatabaseConnectionError
 * when the URL must change, else (refused, timed out: the server may be
 * back soon) a plain Error, exit 1; both name the database, never its
 * password, which is masked even where a driver repeats it.
 */
export function connectionFailure(target: DatabaseTarget, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  let reason = error instanceof Error ? error.message : String(error);
  const password = target.dialect === 'sqlite' ? '' : decodeURIComponent(target.url.password);
  if (password !== '') reason = reason.split(password).join('***');
  const message = `cannot connect to the database ${describeDatabase(target)}: ${reason}`;
  const configuration =
    (typeof code === 'string' && CONFIGURATION_CODES.has(code)) ||
    (target.dialect === 'sqlite' && /cannot open|directory does not exist/i.test(reason));
  return configuration ? new DatabaseConnectionError(message, { cause: error }) : new Error(message, { cause: error });
}

/** The URL with its password masked, for messages. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.dialect === 'sqlite') return `sqlite:${target.file}`;
  const shown = new URL(target.url.href);
  if (shown.password) shown.password = '***';
  return shown.href;
}
