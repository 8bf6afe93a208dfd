import { UsageError } from './command.js';

/** The longest delay Node's timers hold (2^31-1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A decimal whole number from `min` to `max`, written plainly: `16`, not
 * `0x10`, `1e2`, `+5`, `016` or `5.0`, which Number() would accept.
 */
export function parseWholeNumber(raw: string, option: string, min: number, max: number): number {
  const value = /^(0|[1-9]\d*)$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}, in decimal digits (got "${raw}")`);
  }
  return value;
}

/**
 * `60s`, `5m`, `1h`, `500ms` or plain seconds, as milliseconds: at least
 * 100 ms, and at most what a Node timer holds (a longer `--every` would fire
 * at once, so `mesh run --every 1000h` would loop without pause).
 */
export function parseDuration(raw: string, option: string): number {
  const match = /^(0|[1-9]\d*)(?:\.(\d+))?(ms|s|m|h)?$/.exec(raw);
  if (!match) throw new UsageError(`${option} takes a duration such as 500ms, 60s, 5m or 1h (got "${raw}")`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[3] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(`${match[1]}.${match[2] ?? '0'}`) * unit);
  if (ms < 100) throw new UsageError(`${option} must be at least 100ms (got "${raw}")`);
  if (ms > MAX_TIMER_MS)
    throw new UsageError(`${option} must be at most ${MAX_TIMER_MS}ms (about 596h), what Node's timers hold (got "${raw}")`);
  return ms;
}
