/**
 * Cuts a stream of text chunks into whole lines. Chunks from SSH end
 * anywhere, so a line is only reported once its newline has arrived (or at
 * `end`), which keeps `[node] ` prefixes on lines of several nodes at once
 * from landing mid-line.
 *
 * @example
 * const lines = new OutputLines((line) => console.log(`[node1] ${line}`));
 * lines.write('first\nsec');
 * lines.write('ond\n');
 * lines.end();
 */
export class OutputLines {
  readonly #onLine: (line: string) => void;
  #pending = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  write(text: string): void {
    const parts = (this.#pending + text).split('\n');
    this.#pending = parts.pop() ?? '';
    for (const line of parts) this.#onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  /** Reports a last line that had no newline. */
  end(): void {
    if (this.#pending !== '') this.#onLine(this.#pending.endsWith('\r') ? this.#pending.slice(0, -1) : this.#pending);
    this.#pending = '';
  }
}
