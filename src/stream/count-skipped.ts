import type { StreamOutcome } from './run-stage.js';

/** Adds records a guarded flag write left alone to the stream's outcome (the field stays absent while none). */
export function countSkipped(outcome: StreamOutcome, count: number): void {
  if (count > 0) outcome.skippedRecords = (outcome.skippedRecords ?? 0) + count;
}
