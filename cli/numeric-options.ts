import { DEFAULT_CONCURRENCY } from '../src/push/push-records.js';
import type { CommandContext } from './command.js';
import { parseWholeNumber } from './parse-number.js';

export { parseDuration } from './parse-number.js';

export function concurrencyOption(ctx: CommandContext, fallback = DEFAULT_CONCURRENCY): number {
  const raw = ctx.options.concurrency;
  return raw === undefined ? fallback : parseWholeNumber(raw, '--concurrency', 1, 256);
}
