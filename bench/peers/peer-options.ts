import { DEFAULT_SERVERS } from '../bench-options.js';

export interface PeerOptions {
  db: string;
  redis: string;
  records: number;
  entities: number;
  workers: number;
  rounds: number;
  systems: string[];
  timeoutSeconds: number;
  out?: string;
}

export const SYSTEM_IDS = ['workmesh', 'graphile-queue', 'graphile', 'bullmq'];
/** Known but not run unless named: graphile-worker's named queues with its local queue (graphile/worker#621). */
export const EXTRA_SYSTEM_IDS = ['graphile-queue-local'];

export const PEER_USAGE = `npm run bench:peers -- [--records 200000] [--entities 1000] [--workers 4] [--rounds 3]
                          [--systems ${SYSTEM_IDS.join(',')}] (also: ${EXTRA_SYSTEM_IDS.join(', ')}) [--db postgres://...] [--redis redis://127.0.0.1:6379]
                          [--timeout 1800] [--out bench/results/peers/NAME.json]`;

export class PeerUsageError extends Error {}

export function parsePeerOptions(argv: string[]): PeerOptions {
  const options: PeerOptions = {
    db: DEFAULT_SERVERS.postgres,
    redis: 'redis://127.0.0.1:6379',
    records: 200_000,
    entities: 1000,
    workers: 4,
    rounds: 3,
    systems: SYSTEM_IDS,
    timeoutSeconds: 1800,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') throw new PeerUsageError('');
    const value = argv[++i];
    if (value === undefined) throw new PeerUsageError(`${flag} needs a value`);
    const count = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new PeerUsageError(`${flag} must be a positive integer (got "${value}")`);
      return n;
    };
    if (flag === '--db') options.db = value === 'postgres' ? DEFAULT_SERVERS.postgres : value;
    else if (flag === '--redis') options.redis = value;
    else if (flag === '--records') options.records = count();
    else if (flag === '--entities') options.entities = count();
    else if (flag === '--workers') options.workers = count();
    else if (flag === '--rounds') options.rounds = count();
    else if (flag === '--timeout') options.timeoutSeconds = count();
    else if (flag === '--out') options.out = value;
    else if (flag === '--systems') {
      options.systems = value.split(',').map((s) => s.trim());
      const unknown = options.systems.filter((s) => !SYSTEM_IDS.includes(s) && !EXTRA_SYSTEM_IDS.includes(s));
      if (unknown.length > 0) throw new PeerUsageError(`unknown system ${unknown.join(', ')}; known: ${SYSTEM_IDS.join(', ')}`);
    } else throw new PeerUsageError(`unknown flag ${flag}`);
  }
  if (!options.db.startsWith('postgres'))
    throw new PeerUsageError('--db must be a PostgreSQL server URL: graphile-worker runs on PostgreSQL only');
  return options;
}

/** The command that reproduces a run. */
export function peerCommand(options: PeerOptions): string {
  const parts = [
    'npm run bench:peers --',
    `--records ${options.records}`,
    `--entities ${options.entities}`,
    `--workers ${options.workers}`,
  ];
  parts.push(`--rounds ${options.rounds}`, `--systems ${options.systems.join(',')}`);
  if (options.db !== DEFAULT_SERVERS.postgres) parts.push(`--db ${options.db}`);
  if (options.out !== undefined) parts.push(`--out ${options.out}`);
  return parts.join(' ');
}
