import type { Output } from './output.js';

interface BatchEvent {
  node: string;
  records: number;
}

/**
 * A live progress line on stderr, on a terminal only: records per node and
 * the overall rate. Redrawn at most five times a second.
 */
export class ProgressLine {
  readonly #out: Output;
  readonly #label: string;
  readonly #counts = new Map<string, number>();
  readonly #started = Date.now();
  #drawnAt = 0;
  #drawn = false;

  constructor(props: { out: Output; label: string }) {
    this.#out = props.out;
    this.#label = props.label;
  }

  readonly onBatch = (event: BatchEvent): void => {
    if (!this.#out.progress) return;
    this.#counts.set(event.node, (this.#counts.get(event.node) ?? 0) + event.records);
    const now = Date.now();
    if (now - this.#drawnAt < 200) return;
    this.#drawnAt = now;
    const total = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    const rate = Math.round(total / Math.max(0.001, (now - this.#started) / 1000));
    const perNode = [...this.#counts].map(([node, n]) => `${node} ${n}`).join('  ');
    this.#out.stderr.write(`\r\u001b[2K${this.#label}: ${total} records, ${rate}/s  ${perNode}`);
    this.#drawn = true;
  };

  end(): void {
    if (this.#drawn) this.#out.stderr.write('\r\u001b[2K');
  }
}
