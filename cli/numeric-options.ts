import { DEFAULT_CONCURRENCY } from '../src/push/push-records.js';
import { UsageError, type CommandContext } from './command.js';

export function concurrencyOption(ctx: CommandContext): number {
  const raw = ctx.options.concurrency;
  if (raw === undefined) return DEFAULT_CONCURRENCY;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new UsageError(`--concurrency must be a whole number from 1 to 256 (got "${raw}")`);
  return value;
}

/** `60s`, `5m`, `1h`, `500ms` or plain seconds, as milliseconds. */
export function parseDuration(raw: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) throw new UsageError(`${option} takes a duration such as 60s, 5m or 1h (got "${raw}")`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(match[1]) * unit;
  if (ms < 100) throw new UsageError(`${option} must be at least 100ms (got "${raw}")`);
  return ms;
}
