/** What happened to one (service, protocol, node) stream in one push run. */
export interface PushStreamOutcome {
  service: string;
  protocol: string;
  node: string;
  pushed: number;
  failed: number;
  /** The failure that ended the stream for this run. */
  error?: string;
  /** Why the stream was not worked, e.g. another master holds its lease. */
  skipped?: string;
}

export interface PushSummary {
  pushed: number;
  failed: number;
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
