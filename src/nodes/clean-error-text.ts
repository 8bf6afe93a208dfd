/**
 * An error text as it may be stored and printed: every C0 and C1 control
 * character (NUL, escape sequences, carriage returns, newlines and tabs
 * too) and DEL become a space. A node's answer or a database message can carry
 * them; PostgreSQL refuses a NUL byte in text, which would make the very
 * write that records the failure fail, and a terminal would run an escape
 * sequence printed raw.
 */
export function cleanErrorText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}
