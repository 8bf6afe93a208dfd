import { homedir } from 'node:os';

/** `~` and `~/…` as the user's home; other paths unchanged. */
export function expandHomePath(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return `${home}${path.slice(1)}`;
  return path;
}
