/**
 * Node and service names go into shell commands (`deploy`'s `{node}` and
 * `{service}`), file paths and log lines. They are kept to characters that
 * mean nothing to a shell or a path: letters, digits, `.`, `_` and `-`, no
 * leading `-` (an option to the command it lands in), and neither `.` nor
 * `..` (a path step).
 */
const SAFE_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;

export const SAFE_NAME_RULE = 'letters, digits, ".", "_" and "-", not starting with "-", and not "." or ".."';

/** Why `name` is not a safe name, or undefined when it is. */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '.' || name === '..') return `"${name}" is a path step; use ${SAFE_NAME_RULE}`;
  if (!SAFE_NAME.test(name)) return `${JSON.stringify(name)} may hold only ${SAFE_NAME_RULE}`;
  return undefined;
}
