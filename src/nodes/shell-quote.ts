/**
 * One word for a POSIX shell, whatever it holds: single-quoted, each `'`
 * written as `'\''`. Nothing inside single quotes means anything to the
 * shell (no `$`, backquote, `;` or glob), so the word arrives as written.
 */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
