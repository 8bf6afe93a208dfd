import { describe, expect, it } from 'vitest';
import { fitRunSummary, MAX_SUMMARY_BYTES } from '../../src/db/fit-run-summary.js';

/** A push's outcome of one stream, as runStage reports it. */
function outcome(i: number, error?: string) {
  return { service: 'micro.emails.timeline', protocol: 'deliveries', node: `node${i}`, pushed: 200, failed: 0, ...(error && { error }) };
}

describe('fitRunSummary', () => {
  it('keeps a summary that fits whole', () => {
    const summary = [outcome(1), outcome(2, 'down')];
    expect(fitRunSummary(summary)).toBe(JSON.stringify(summary));
  });

  it('fits the summary of 1,000 streams (more than a MySQL TEXT takes whole) and keeps what the run history counts', () => {
    const summary = Array.from({ length: 1_000 }, (_, i) => outcome(i + 1, i === 7 ? 'node8 said no' : undefined));
    expect(JSON.stringify(summary).length).toBeGreaterThan(MAX_SUMMARY_BYTES);
    const fitted = JSON.parse(fitRunSummary(summary)) as Record<string, unknown>[];
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(fitted).toHaveLength(1_000);
    expect(fitted.reduce((sum, s) => sum + Number(s.pushed ?? 0), 0)).toBe(200_000);
    expect(fitted[7]).toEqual({ node: 'node8', protocol: 'deliveries', pushed: 200, error: 'node8 said no' });
    expect(fitted[0]).toEqual({ pushed: 200 });
  });

  it('drops the errors last, when even they do not fit', () => {
    const summary = Array.from({ length: 1_000 }, (_, i) => outcome(i + 1, 'x'.repeat(100)));
    const fitted = JSON.parse(fitRunSummary(summary)) as Record<string, unknown>[];
    expect(fitted).toHaveLength(1_000);
    expect(fitted[0]).toEqual({ pushed: 200 });
  });
});
