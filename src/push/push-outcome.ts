import type { StreamOutcome } from '../stream/run-stage.js';

/**
 * What happened to one (service, protocol, node) stream in one push run;
 * `error` is the failure that ended the stream, `skipped` why it was not
 * worked (another master holds its lease).
 */
export interface PushStreamOutcome extends StreamOutcome {
  pushed: number;
  failed: number;
}

export interface PushSummary {
  pushed: number;
  failed: number;
  /** Records whose flags a guard left alone: they moved or were re-pushed while their batch was in flight. */
  skipped: number;
  nodes: PushStreamOutcome[];
}

/** Reported as batches complete, for progress lines. */
export interface PushBatchEvent {
  stage: 'push';
  service: string;
  protocol: string;
  node: string;
  records: number;
  ok: boolean;
  error?: string;
}
