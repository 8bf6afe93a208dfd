/**
 * `scheme://user:password@` anywhere in a text, with the password shown as
 * `***`. Works on text that is not a valid URL (a malformed node URL, a
 * parser's code frame around one), which `new URL` could not mask.
 */
const USERINFO_PASSWORD = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@'"`]*):[^\s@'"`]*@/g;

export function maskUrlPassword(text: string): string {
  return text.replace(USERINFO_PASSWORD, '$1:***@');
}
