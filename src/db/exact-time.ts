/**
 * A timestamp read with more precision than a Date holds (microseconds:
 * MariaDB/MySQL DATETIME(6), PostgreSQL timestamp and timestamptz): a Date
 * to the millisecond for the code that computes with it, and the exact ISO
 * 8601 form in UTC (`2026-11-20T10:00:00.123456Z`) for the wire and JSON.
 * Only values with digits beyond the millisecond are read as one; the
 * others stay plain Dates, which are exact already.
 */
export class ExactTime extends Date {
  readonly iso: string;

  constructor(ms: number, iso: string) {
    super(ms);
    this.iso = iso;
  }

  override toJSON(): string {
    return this.iso;
  }
}

const FRACTION = /\.(\d+)/;

/**
 * A Date parsed from `text` by the driver's own parser, made exact: the
 * fraction of a second is copied from the text (time zone offsets are
 * whole minutes, so the fraction is the same in UTC).
 */
export function exactTime(parsed: unknown, text: string): unknown {
  if (!(parsed instanceof Date) || Number.isNaN(parsed.getTime())) return parsed;
  const fraction = FRACTION.exec(text)?.[1];
  if (fraction === undefined || fraction.length <= 3) return parsed;
  return new ExactTime(parsed.getTime(), parsed.toISOString().replace(/\.\d{3}Z$/, `.${fraction.padEnd(6, '0')}Z`));
}

/** MariaDB/MySQL DATETIME or TIMESTAMP text (`2026-11-20 10:00:00.123456`), read as UTC as the pool's `timezone: 'Z'` says. */
export function parseMysqlTime(text: string | null): Date | null {
  if (text === null) return null;
  const iso = `${text.replace(' ', 'T')}Z`;
  return exactTime(new Date(iso), text) as Date;
}
