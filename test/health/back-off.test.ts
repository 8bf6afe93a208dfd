import { describe, expect, it } from 'vitest';
import { backOffDelayMs, backOffSettings, DEFAULT_BACK_OFF } from '../../src/health/back-off.js';

describe('backOffDelayMs', () => {
  it('starts at 5 s and doubles with each failure in a row, up to the 10 min cap', () => {
    const full = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 5_000].map((n) => backOffDelayMs(n, DEFAULT_BACK_OFF, 0));
    expect(full).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000, 600_000, 600_000, 600_000]);
  });

  it('jitters down by at most a quarter, never above the cap', () => {
    expect(backOffDelayMs(1, DEFAULT_BACK_OFF, 0.5)).toBe(4_375);
    expect(backOffDelayMs(1, DEFAULT_BACK_OFF, 0.999_999)).toBe(3_750);
    for (const random of [0, 0.1, 0.5, 0.9, 0.99]) {
      const delay = backOffDelayMs(20, DEFAULT_BACK_OFF, random);
      expect(delay).toBeLessThanOrEqual(600_000);
      expect(delay).toBeGreaterThanOrEqual(450_000);
    }
    // Out-of-range randoms are clamped rather than trusted.
    expect(backOffDelayMs(2, DEFAULT_BACK_OFF, 7)).toBe(7_500);
    expect(backOffDelayMs(2, DEFAULT_BACK_OFF, -1)).toBe(10_000);
  });

  it('a zero or negative count waits the base', () => {
    expect(backOffDelayMs(0, DEFAULT_BACK_OFF, 0)).toBe(5_000);
    expect(backOffDelayMs(-3, DEFAULT_BACK_OFF, 0)).toBe(5_000);
  });

  it('reads its base and cap from WORKMESH_BACKOFF_BASE_MS and WORKMESH_BACKOFF_CAP_MS', () => {
    expect(backOffSettings({})).toEqual(DEFAULT_BACK_OFF);
    expect(backOffSettings({ WORKMESH_BACKOFF_BASE_MS: '50' })).toEqual({ baseMs: 50, capMs: 600_000 });
    expect(backOffSettings({ WORKMESH_BACKOFF_BASE_MS: '50', WORKMESH_BACKOFF_CAP_MS: '400' })).toEqual({ baseMs: 50, capMs: 400 });
    // A cap below the base is the base.
    expect(backOffSettings({ WORKMESH_BACKOFF_BASE_MS: '500', WORKMESH_BACKOFF_CAP_MS: '100' })).toEqual({ baseMs: 500, capMs: 500 });
    expect(() => backOffSettings({ WORKMESH_BACKOFF_BASE_MS: 'soon' })).toThrow('WORKMESH_BACKOFF_BASE_MS must be a positive whole number');
    expect(() => backOffSettings({ WORKMESH_BACKOFF_CAP_MS: '0' })).toThrow('WORKMESH_BACKOFF_CAP_MS must be a positive whole number');
  });
});
