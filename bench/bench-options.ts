import type { DialectName } from '../src/db/database-url.js';

/** What one bench run measures; every field has a flag of the same name. */
export interface BenchOptions {
  /** Server URL the bench creates its own database on, or `sqlite` (a temp file). */
  db: string;
  /** `--db` as given, for the command that reproduces the run. */
  dbArg: string;
  dialect: DialectName;
  entities: number;
  records: number;
  /** The first of `nodeCounts`. */
  nodes: number;
  /** `--nodes 4,20,200`: with `--stub`, each count is measured in turn. */
  nodeCounts: number[];
  /** `--stub`: measure push and pull to stub nodes only, for each of `nodeCounts` (cost against the number of nodes). */
  scaling: boolean;
  batch: number;
  /** Records sent the naive way (one request and one UPDATE each); 0 skips it. */
  naiveSample: number;
  /** Records per processing chunk on the nodes (the demo node's BATCH_SIZE). */
  nodeBatch: number;
  /** Each floor is measured this many times and the fastest kept. */
  floorRuns: number;
  /** Also push to stub nodes that store nothing: the master alone. */
  stub: boolean;
  /** Where the JSON result goes; none when left out. */
  out?: string;
  /** Writes V8 CPU profiles of the mesh children and the nodes into this folder. */
  profileDir?: string;
  /** Extra Node.js flags for the mesh children, e.g. `--trace-gc` (diagnostics; not in the report's command). */
  meshFlags: string[];
  /** Keeps the database after the run (its URL is printed) instead of dropping it. */
  keep: boolean;
}

/** Servers the bench uses when `--db` names a dialect only. */
export const DEFAULT_SERVERS: Record<Exclude<DialectName, 'sqlite'>, string> = {
  mysql: 'mysql://root@127.0.0.1:3306/test',
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
};

export const USAGE = `npm run bench -- [--db sqlite|mysql|postgres|URL] [--entities 1000] [--records 200000] [--nodes 4 | --nodes 4,20,200 --stub]
                    [--batch 500] [--naive-sample 2000] [--node-batch 500] [--floor-runs 2] [--no-stub]
                    [--out bench/results/NAME.json] [--profile DIR] [--mesh-flags "--trace-gc ..."] [--keep]
       npm run bench -- --reports [--db sqlite|mysql|postgres] [--records 1000000,10000000] [--entities 1000] [--nodes 20] [--out FILE]`;

export class BenchUsageError extends Error {}

/** Parses the flags after `npm run bench --`. */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new BenchUsageError(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (name === 'keep' || name === 'help' || name === 'no-stub' || name === 'stub') switches.add(name);
    else if (inline !== undefined) values.set(name, inline);
    else {
      const next = argv[++i];
      if (next === undefined) throw new BenchUsageError(`--${name} needs a value`);
      values.set(name, next);
    }
  }
  if (switches.has('help')) throw new BenchUsageError('');
  const known = new Set([
    'db',
    'entities',
    'records',
    'nodes',
    'batch',
    'naive-sample',
    'node-batch',
    'out',
    'profile',
    'mesh-flags',
    'floor-runs',
  ]);
  for (const name of values.keys()) if (!known.has(name)) throw new BenchUsageError(`unknown option --${name}`);

  const integer = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(value) || value < min) throw new BenchUsageError(`--${name} must be a whole number >= ${min} (got "${raw}")`);
    return value;
  };
  const nodeCounts = (values.get('nodes') ?? '4').split(',').map((raw) => {
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(value) || value < 1)
      throw new BenchUsageError(`--nodes takes whole numbers >= 1, comma-separated (got "${raw}")`);
    return value;
  });
  if (nodeCounts.length > 1 && !switches.has('stub')) throw new BenchUsageError('a list of node counts needs --stub');
  const db = values.get('db') ?? 'sqlite';
  const options: BenchOptions = {
    db: db in DEFAULT_SERVERS ? DEFAULT_SERVERS[db as keyof typeof DEFAULT_SERVERS] : db,
    dbArg: db,
    dialect: dialectOf(db),
    entities: integer('entities', 1_000, 1),
    records: integer('records', 200_000, 1),
    nodes: nodeCounts[0]!,
    nodeCounts,
    scaling: switches.has('stub'),
    batch: integer('batch', 500, 1),
    naiveSample: integer('naive-sample', 2_000, 0),
    nodeBatch: integer('node-batch', 500, 1),
    floorRuns: integer('floor-runs', 2, 1),
    stub: !switches.has('no-stub'),
    meshFlags: (values.get('mesh-flags') ?? '').split(/\s+/).filter((flag) => flag !== ''),
    keep: switches.has('keep'),
  };
  const out = values.get('out');
  if (out !== undefined) options.out = out;
  const profile = values.get('profile');
  if (profile !== undefined) options.profileDir = profile;
  if (Math.max(...nodeCounts) > options.entities) throw new BenchUsageError('--nodes must not exceed --entities');
  return options;
}

function dialectOf(db: string): DialectName {
  if (db === 'sqlite' || db.startsWith('sqlite:')) return 'sqlite';
  if (db === 'mysql' || db.startsWith('mysql:') || db.startsWith('mariadb:')) return 'mysql';
  if (db === 'postgres' || db.startsWith('postgres:') || db.startsWith('postgresql:')) return 'postgres';
  throw new BenchUsageError(`--db takes sqlite, mysql, postgres or a mysql:// / postgres:// URL (got "${db}")`);
}

/** The flags that reproduce this run, for the report. */
export function reproduceCommand(options: BenchOptions): string {
  const flags = [
    `--db ${options.dbArg.replace(/\/\/[^@/]*@/, '//USER@')}`,
    `--entities ${options.entities}`,
    `--records ${options.records}`,
    `--nodes ${options.nodeCounts.join(',')}`,
    ...(options.scaling ? ['--stub'] : []),
    `--batch ${options.batch}`,
    `--naive-sample ${options.naiveSample}`,
    `--node-batch ${options.nodeBatch}`,
    `--floor-runs ${options.floorRuns}`,
    ...(options.stub ? [] : ['--no-stub']),
    ...(options.out !== undefined ? [`--out ${options.out}`] : []),
  ];
  return `npm run bench -- ${flags.join(' ')}`;
}
