import { DEFAULT_SERVERS } from '../bench-options.js';

export interface LatencyOptions {
  db: string;
  /** Records inserted a second. */
  rate: number;
  /** How long records are inserted, seconds. */
  seconds: number;
  entities: number;
  nodes: number;
  batch: number;
  /** `mesh run --every` value. */
  every: string;
  /** How long to wait, after the last insert, for every result to be stored, seconds. */
  drainSeconds: number;
  out?: string;
}

export const LATENCY_USAGE = `npm run bench:latency -- [--rate 2000] [--seconds 60] [--every 1s] [--entities 1000] [--nodes 4]
                            [--batch 500] [--drain 120] [--db postgres://...] [--out bench/results/latency/NAME.json]`;

export class LatencyUsageError extends Error {}

export function parseLatencyOptions(argv: string[]): LatencyOptions {
  const options: LatencyOptions = {
    db: DEFAULT_SERVERS.postgres,
    rate: 2000,
    seconds: 60,
    entities: 1000,
    nodes: 4,
    batch: 500,
    every: '1s',
    drainSeconds: 120,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') throw new LatencyUsageError('');
    const value = argv[++i];
    if (value === undefined) throw new LatencyUsageError(`${flag} needs a value`);
    const count = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new LatencyUsageError(`${flag} must be a positive integer (got "${value}")`);
      return n;
    };
    if (flag === '--db') options.db = value === 'postgres' ? DEFAULT_SERVERS.postgres : value;
    else if (flag === '--rate') options.rate = count();
    else if (flag === '--seconds') options.seconds = count();
    else if (flag === '--entities') options.entities = count();
    else if (flag === '--nodes') options.nodes = count();
    else if (flag === '--batch') options.batch = count();
    else if (flag === '--every') options.every = value;
    else if (flag === '--drain') options.drainSeconds = count();
    else if (flag === '--out') options.out = value;
    else throw new LatencyUsageError(`unknown flag ${flag}`);
  }
  if (!options.db.startsWith('postgres'))
    throw new LatencyUsageError('--db must be a PostgreSQL server URL (the insert times come from clock_timestamp())');
  return options;
}

export function latencyCommand(options: LatencyOptions): string {
  const parts = ['npm run bench:latency --', `--rate ${options.rate}`, `--seconds ${options.seconds}`, `--every ${options.every}`];
  parts.push(`--entities ${options.entities}`, `--nodes ${options.nodes}`, `--batch ${options.batch}`);
  if (options.db !== DEFAULT_SERVERS.postgres) parts.push(`--db ${options.db}`);
  if (options.out !== undefined) parts.push(`--out ${options.out}`);
  return parts.join(' ');
}
