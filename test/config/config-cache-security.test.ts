import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createThrowawayUser, RUN_SECOND_USER_TESTS, type ThrowawayUser } from '../helpers/throwaway-user.js';

const NODES = `import { defineNodes } from 'workmesh';

export default defineNodes([
  { name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'literal-key-in-config', services: { svc: {} } },
]);
`;

const SERVICES = `import { defineServices } from 'workmesh';

export default defineServices([
  {
    name: 'svc',
    entity: { table: 'account', id: 'id', node: 'node_svc' },
    protocols: [{ name: 'items', table: 'item', id: 'id', sort: 'id', entityRef: 'id_account', push: { path: '/push' } }],
  },
]);
`;

const savedCacheDir = process.env.WORKMESH_CACHE_DIR;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'workmesh-cache-sec-'));
  // Another user must be able to reach the cache below, as in a shared folder.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'nodes.config.ts'), NODES);
  writeFileSync(join(dir, 'services.config.ts'), SERVICES);
});

afterEach(() => {
  if (savedCacheDir === undefined) delete process.env.WORKMESH_CACHE_DIR;
  else process.env.WORKMESH_CACHE_DIR = savedCacheDir;
  rmSync(dir, { recursive: true, force: true });
});

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

/** Loads the config with the cache in `cache`, collecting warnings. */
async function load(cache: string): Promise<{ warnings: string[]; url: string }> {
  process.env.WORKMESH_CACHE_DIR = cache;
  const warnings: string[] = [];
  const config = await loadConfig({}, dir, { onWarning: (message) => warnings.push(message) });
  return { warnings, url: config.nodes[0]!.url };
}

describe('compiled-config cache permissions', () => {
  it('creates folders 0700 and files 0600 even under umask 000', async () => {
    const previous = process.umask(0o000);
    try {
      await load(join(dir, 'cache'));
    } finally {
      process.umask(previous);
    }
    expect(mode(join(dir, 'cache'))).toBe('700');
    expect(mode(join(dir, 'cache', 'config'))).toBe('700');
    const files = readdirSync(join(dir, 'cache', 'config'));
    expect(files).toHaveLength(2);
    for (const file of files) expect(mode(join(dir, 'cache', 'config', file))).toBe('600');
    // Those files hold the literal key: only their owner may read them.
    expect(files.some((file) => readFileSync(join(dir, 'cache', 'config', file), 'utf8').includes('literal-key-in-config'))).toBe(true);
  });

  it('tightens a cache of its own left readable by others (an earlier release)', async () => {
    const cache = join(dir, 'cache');
    await load(cache);
    const folder = join(cache, 'config');
    chmodSync(folder, 0o755);
    for (const file of readdirSync(folder)) chmodSync(join(folder, file), 0o644);
    const { warnings } = await load(cache);
    expect(warnings).toEqual([]);
    expect(mode(folder)).toBe('700');
    for (const file of readdirSync(folder)) expect(mode(join(folder, file))).toBe('600');
  });

  it('refuses a cache folder writable by its group, and compiles without it', async () => {
    const cache = join(dir, 'cache');
    mkdirSync(join(cache, 'config'), { recursive: true });
    chmodSync(join(cache, 'config'), 0o770);
    const { warnings, url } = await load(cache);
    expect(url).toBe('http://127.0.0.1:3001');
    expect(warnings).toEqual([
      `not using the compiled-config cache: ${join(cache, 'config')} can be written by its group (mode 770); ` +
        'compiling without it (remove the folder, or set WORKMESH_CACHE_DIR)',
    ]);
    expect(readdirSync(join(cache, 'config'))).toEqual([]);
  });
});

describe.skipIf(!RUN_SECOND_USER_TESTS)('compiled-config cache against another local user (a real second account)', () => {
  let other: ThrowawayUser;

  beforeAll(async () => {
    other = await createThrowawayUser();
  });
  afterAll(async () => {
    await other?.remove();
  });

  /**
   * What the attacker writes at the top of the cached nodes.config: a line
   * that leaves a marker with the uid it ran as. The cached file keeps its
   * hash footer, so the cache would take it for a good copy.
   */
  function plantedLine(marker: string): string {
    return `await jitiImport("node:fs").then((fs) => (fs.writeFileSync ?? fs.default.writeFileSync)(${JSON.stringify(marker)}, "ran as uid " + process.getuid()));\n`;
  }

  function cachedNodesFile(cache: string): string {
    const name = readdirSync(join(cache, 'config')).find((file) => file.includes('nodes.config'));
    if (name === undefined) throw new Error('no cached nodes.config');
    return join(cache, 'config', name);
  }

  it('the planted line is a real attack: in a cache that passes the checks, it runs', async () => {
    // The control for the tests below: planted by the owner (root) itself, the line runs.
    const cache = join(dir, 'cache');
    await load(cache);
    const file = cachedNodesFile(cache);
    const marker = join(dir, 'marker-control');
    writeFileSync(file, plantedLine(marker) + readFileSync(file, 'utf8'));
    const { warnings } = await load(cache);
    expect(warnings).toEqual([]);
    expect(readFileSync(marker, 'utf8')).toBe(`ran as uid ${process.getuid?.()}`);
  });

  it('refuses a cache folder owned by the other user, who planted code in it: the code is not run', async () => {
    // A good compiled copy, with its hash footer, to plant into.
    const warm = join(dir, 'warm');
    await load(warm);
    const good = cachedNodesFile(warm);
    // A shared folder in which the other user made the cache folder first, and filled it.
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const marker = join(dir, 'marker-owned');
    await other.sh(
      `mkdir -m 755 ${shared}/config && cat > ${shared}/config/${basename(good)} <<'PLANT'\n${plantedLine(marker)}${readFileSync(good, 'utf8')}\nPLANT`,
    );
    // The parent as a careful administrator leaves it: only the folder's owner is wrong.
    chmodSync(shared, 0o755);
    expect(statSync(join(shared, 'config')).uid).toBe(other.uid);

    const { warnings, url } = await load(shared);
    expect(url).toBe('http://127.0.0.1:3001');
    expect(existsSync(marker)).toBe(false);
    expect(warnings).toEqual([
      `not using the compiled-config cache: ${join(shared, 'config')} is owned by another user (uid ${other.uid}); ` +
        'compiling without it (remove the folder, or set WORKMESH_CACHE_DIR)',
    ]);
  });

  it('refuses a world-writable cache folder (the umask 000 case) in which the other user changed an entry: not run', async () => {
    const cache = join(dir, 'cache');
    await load(cache);
    const folder = join(cache, 'config');
    // What an earlier release left under umask 000.
    chmodSync(cache, 0o777);
    chmodSync(folder, 0o777);
    const file = cachedNodesFile(cache);
    const good = readFileSync(file, 'utf8');
    const marker = join(dir, 'marker-writable');
    // The other user cannot write root's 0600 file, but can replace it in a folder anyone may write.
    await other.sh(`rm -f ${file} && cat > ${file} <<'PLANT'\n${plantedLine(marker)}${good}\nPLANT`);
    expect(statSync(file).uid).toBe(other.uid);

    const { warnings, url } = await load(cache);
    expect(url).toBe('http://127.0.0.1:3001');
    expect(existsSync(marker)).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^not using the compiled-config cache: .* can be written by every user \(mode 777\); compiling without it/);
  });
});
