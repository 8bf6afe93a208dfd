import type { Writable } from 'node:stream';

/** Where commands print: the engine itself never prints. */
export class Output {
  readonly json: boolean;
  /** Nothing on stdout but an asked-for JSON document: for cron, which mails any output. Errors still go to stderr. */
  readonly quiet: boolean;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };

  constructor(props: { json: boolean; quiet?: boolean; stdout?: Writable; stderr?: Writable }) {
    this.json = props.json;
    this.quiet = props.quiet ?? false;
    this.stdout = props.stdout ?? process.stdout;
    this.stderr = props.stderr ?? process.stderr;
  }

  /** Colour only on a terminal and when NO_COLOR is not set. */
  get colour(): boolean {
    return Boolean(this.stdout.isTTY) && !process.env.NO_COLOR;
  }

  /** Progress lines go to stderr on a terminal only. */
  get progress(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  /** A copy that prints nothing on stdout but JSON documents (`--quiet`). */
  quieted(): Output {
    return new Output({ json: this.json, quiet: true, stdout: this.stdout, stderr: this.stderr });
  }

  line(text = ''): void {
    if (!this.quiet) write(this.stdout, `${text}\n`);
  }

  error(text: string): void {
    write(this.stderr, `${text}\n`);
  }

  /** Writes one JSON document on stdout. */
  document(value: unknown): void {
    write(this.stdout, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** A plain aligned table; numbers right-aligned. */
  table(columns: string[], rows: (string | number | null)[][]): void {
    if (this.quiet) return;
    const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))));
    const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => (row[i] ?? '').length)));
    // Numbers, and loads beside their limit (`3/5`), are right-aligned.
    const numeric = columns.map(
      (_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || /^\d+\/\d+$/.test(String(row[i]))),
    );
    const format = (row: string[]) =>
      row
        .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    const header = format(columns.map((c) => c.toUpperCase()));
    this.line(this.colour ? `\u001b[1m${header}\u001b[0m` : header);
    for (const row of cells) this.line(format(row));
  }
}

/** A reader that went away (`mesh push | head -1`) destroyed the stream: what is left to say is dropped, not thrown. */
function write(stream: Writable, text: string): void {
  if (!stream.destroyed) stream.write(text);
}
