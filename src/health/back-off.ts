/** How long a node that failed by its own fault is left alone. */
export interface BackOffSettings {
  /** The wait after the first failure; it doubles with each failure in a row. */
  baseMs: number;
  /** The longest wait. */
  capMs: number;
}

export const DEFAULT_BACK_OFF: BackOffSettings = { baseMs: 5_000, capMs: 600_000 };

/**
 * The back-off settings: DEFAULT_BACK_OFF, with the base from
 * `WORKMESH_BACKOFF_BASE_MS` and the cap from `WORKMESH_BACKOFF_CAP_MS` when
 * set (tests use a small base instead of waiting seconds). Read when a run
 * starts, not on import.
 */
export function backOffSettings(env: NodeJS.ProcessEnv = process.env): BackOffSettings {
  const baseMs = positiveMs(env, 'WORKMESH_BACKOFF_BASE_MS') ?? DEFAULT_BACK_OFF.baseMs;
  const capMs = positiveMs(env, 'WORKMESH_BACKOFF_CAP_MS') ?? Math.max(DEFAULT_BACK_OFF.capMs, baseMs);
  return { baseMs, capMs: Math.max(capMs, baseMs) };
}

/**
 * The wait before a node that has failed `failures` times in a row is
 * called again: baseMs × 2^(failures − 1), at most capMs, then jittered
 * down by up to a quarter (`random` in [0, 1)), so that nodes that failed
 * together (a network cut) are not all retried in the same second, and the
 * wait never exceeds the cap. Pure.
 */
export function backOffDelayMs(failures: number, settings: BackOffSettings, random: number): number {
  const steps = Math.max(0, Math.floor(failures) - 1);
  // 2^steps overflows to Infinity long after the cap is reached; min() keeps it finite.
  const full = Math.min(settings.capMs, settings.baseMs * 2 ** Math.min(steps, 60));
  const jitter = Math.min(Math.max(random, 0), 1);
  return Math.round(full * (1 - 0.25 * jitter));
}

function positiveMs(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1) throw new Error(`${name} must be a positive whole number of milliseconds (got "${raw}")`);
  return ms;
}
