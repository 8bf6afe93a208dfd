/**
 * What a run's summary may take, in UTF-8 bytes: a MySQL TEXT column holds
 * 65,535 (workmesh_run.summary); the others take more, but one size fits all.
 */
export const MAX_SUMMARY_BYTES = 60_000;

/** The fields of a stream's outcome the run history counts (src/report/run-history.ts). */
const COUNTED = ['pushed', 'pulled', 'failed'] as const;

/**
 * A run's summary as JSON that fits MAX_SUMMARY_BYTES. A run over 1,000
 * nodes has 1,000 stream outcomes, more than a MySQL TEXT takes. When the
 * whole does not fit, each stream keeps only what the run history reads
 * (its counts, and its node, protocol and error when it failed), then only
 * its counts: the number of streams, the records and the failures stay
 * right; every stream's full outcome is in workmesh_stream_history anyway.
 */
export function fitRunSummary(summary: unknown): string {
  const whole = JSON.stringify(summary);
  if (!Array.isArray(summary) || fits(whole)) return whole;
  const streams = summary as Record<string, unknown>[];
  const counts = (stream: Record<string, unknown>) =>
    Object.fromEntries(COUNTED.filter((field) => typeof stream[field] === 'number' && stream[field] !== 0).map((f) => [f, stream[f]]));
  const counted = JSON.stringify(
    streams.map((stream) =>
      stream.error === undefined
        ? counts(stream)
        : { node: stream.node, protocol: stream.protocol, ...counts(stream), error: stream.error },
    ),
  );
  return fits(counted) ? counted : JSON.stringify(streams.map(counts));
}

function fits(json: string): boolean {
  return Buffer.byteLength(json, 'utf8') <= MAX_SUMMARY_BYTES;
}
