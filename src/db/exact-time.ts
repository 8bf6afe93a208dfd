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

/**
 * MariaDB/MySQL DATETIME or TIMESTAMP text (`2026-11-20 10:00:00.123456`),
 * read as UTC as the pool's `timezone: 'Z'` says. Parsed by position, not by
 * `new Date(text)`, which costs ten times as much for a six-digit fraction:
 * this runs for every time value of every row read.
 */
export function parseMysqlTime(text: string | null): Date | null {
  if (text === null) return null;
  const digit = (i: number) => text.charCodeAt(i) - 48;
  const two = (i: number) => digit(i) * 10 + digit(i + 1);
  const year = digit(0) * 1000 + digit(1) * 100 + two(2);
  // The zero date (0000-00-00) and other values no Date holds: an invalid Date, as mysql2 gives.
  if (year === 0 || text.length < 19) return new Date(Number.NaN);
  let ms = 0;
  for (let i = 20, scale = 100; i < 23 && i < text.length; i++, scale /= 10) ms += digit(i) * scale;
  const time = Date.UTC(year, two(5) - 1, two(8), two(11), two(14), two(17), ms);
  if (text.length <= 23) return new Date(time);
  return new ExactTime(time, `${text.slice(0, 10)}T${text.slice(11, 20)}${text.slice(20).padEnd(6, '0')}Z`);
}
