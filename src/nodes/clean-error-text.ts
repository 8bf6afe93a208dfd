/**
 * An error text fit to store and print: each C0 and C1 control character
 * (NUL included, which PostgreSQL text refuses) and DEL becomes a space, so
 * a node's answer can neither break a flag write nor drive a terminal.
 */
export function cleanErrorText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}
