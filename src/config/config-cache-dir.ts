import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * Where the JavaScript compiled from the `.ts` configuration is kept between
 * runs: compiling loads Babel, which costs some 150 ms and 25 MB of memory
 * for the whole run; a cron job that runs `mesh` every minute compiles once.
 * Entries are keyed by the file's path and checked against a hash of its
 * text, so an edited file is compiled again. The folder is the user's own
 * (not a shared /tmp); WORKMESH_CACHE_DIR names another, `off` turns the
 * cache off.
 */
export function configCacheDir(): string | false {
  const chosen = process.env.WORKMESH_CACHE_DIR;
  if (chosen === 'off') return false;
  if (chosen !== undefined && chosen !== '') return resolve(chosen, 'config');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'workmesh', 'config');
}

/**
 * The cache holds code that `mesh` runs, and the literal API keys of configs
 * that write them inline: anyone who can write to it can run code as the
 * user who runs `mesh` (root, often), anyone who can read it has the keys.
 * So the folder and its parent are created 0700 whatever the umask, and an
 * existing one is used only when it is a real folder owned by this user (or
 * root) that neither group nor others can write, holding only files of the
 * same kind. Our own folders and files that are merely readable by others
 * (an earlier release, a loose umask) are tightened. Returns why the cache
 * cannot be used, or undefined when it can.
 */
export function prepareConfigCacheDir(dir: string): string | undefined {
  const parent = dirname(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    return `cannot create ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  // Whoever can write to the parent can swap the folder for one of their own; a sticky
  // parent (/tmp) lets nobody but the owner move our folder.
  const refused =
    refusal(parent, 'folder', { tighten: false, stickyOk: true, follow: true }) ??
    refusal(dir, 'folder', { tighten: true, stickyOk: false, follow: false });
  if (refused !== undefined) return refused;
  for (const name of readdirSync(dir)) {
    const refusedFile = refusal(join(dir, name), 'file', { tighten: true, stickyOk: false, follow: false });
    if (refusedFile !== undefined) return refusedFile;
  }
  return undefined;
}

/** Makes the entries compiled during this run readable by their owner only (they were written under the umask). */
export function tightenConfigCacheFiles(dir: string): void {
  const uid = process.getuid?.();
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    const stats = lstatSync(file);
    if (stats.isFile() && stats.uid === uid && (stats.mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}

function refusal(
  path: string,
  kind: 'folder' | 'file',
  options: { tighten: boolean; stickyOk: boolean; follow: boolean },
): string | undefined {
  let stats: Stats;
  try {
    // A parent reached through a link (a moved ~/.cache) is judged by where it leads.
    stats = options.follow ? statSync(path) : lstatSync(path);
  } catch (error) {
    return `cannot inspect ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const uid = process.getuid?.();
  // Without POSIX owners (Windows) there is nothing to compare.
  if (uid === undefined) return undefined;
  const isRightKind = kind === 'folder' ? stats.isDirectory() : stats.isFile();
  if (!isRightKind) return `${path} is not a plain ${kind}${stats.isSymbolicLink() ? ' (a symbolic link)' : ''}`;
  if (stats.uid !== uid && stats.uid !== 0) return `${path} is owned by another user (uid ${stats.uid})`;
  const sticky = (stats.mode & 0o1000) !== 0;
  if ((stats.mode & 0o022) !== 0 && !(options.stickyOk && sticky)) {
    return `${path} can be written by ${(stats.mode & 0o002) !== 0 ? 'every user' : 'its group'} (mode ${(stats.mode & 0o777).toString(8)})`;
  }
  if (options.tighten && stats.uid === uid && (stats.mode & 0o077) !== 0) chmodSync(path, kind === 'folder' ? 0o700 : 0o600);
  return undefined;
}
