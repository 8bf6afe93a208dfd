import type { StreamOutcome } from '../stream/run-stage.js';

/** What happened to one (service, protocol, node) stream in one pull run. */
export interface PullStreamOutcome extends StreamOutcome {
  /** Results stored and flagged as pulled. */
  pulled: number;
  /** Records the node reported a processing error for, or whose pull request failed. */
  failed: number;
  /** Asked for but not processed yet: they stay pending. */
  notReady: number;
  lastProcessedId?: unknown;
}

export interface PullSummary {
  pulled: number;
  failed: number;
  /** Results a guard dropped: their records were re-pushed or pulled elsewhere while the batch was in flight. */
  skipped: number;
  nodes: PullStreamOutcome[];
}

export interface PullBatchEvent {
  stage: 'pull';
  service: string;
  protocol: string;
  node: string;
  records: number;
  ok: boolean;
  error?: string;
}
