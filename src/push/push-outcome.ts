import type { FailoverResult } from '../assign/failover-nodes.js';
import type { StreamOutcome } from '../stream/run-stage.js';

/**
 * What happened to one (service, protocol, node) stream in one push run;
 * `error` is the failure that ended the stream (or the last record
 * rejection), `skipped` why it was not worked (another master holds its
 * lease, the node is in back-off), `unavailable` the node's failure.
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
  /** Entities automatic failover moved before this push (services with `failover`); left out when none. */
  failover?: FailoverResult[];
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
