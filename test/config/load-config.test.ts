import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-problem.js';
import { loadConfig } from '../../src/config/load-config.js';

const NODES = `import { defineNodes } from 'workmesh';
import type { NodeConfig } from 'workmesh';

const port: number = 3001;
const first: NodeConfig = {
  name: 'node1',
  url: \`http://127.0.0.1:\${port}\`,
  apiKey: 'key-1',
  services: { 'micro.emails.timeline': { maxEntities: 5 } },
};

export default defineNodes([first, { ...first, name: 'node2', url: 'http://127.0.0.1:3002' }]);
`;

const SERVICES = `import { defineServices } from 'workmesh';

interface Names { table: string }
const delivery: Names = { table: 'delivery' };

export default defineServices([
  {
    name: 'micro.emails.timeline',
    entity: { table: 'account', id: 'id', node: 'node_for_timeline' },
    protocols: [
      {
        name: 'deliveries',
        table: delivery.table,
        id: 'id',
        sort: 'create_time',
        entityRef: 'id_account',
        push: { fn: async (records: unknown[]): Promise<void> => { void records; } },
      },
    ],
  },
]);
`;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'workmesh-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadConfig', () => {
  it('loads TypeScript config files that import from workmesh, with defaults filled in', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES);
    writeFileSync(join(dir, 'services.config.ts'), SERVICES);
    const config = await loadConfig({}, dir);
    expect(config.nodes.map((n) => [n.name, n.url])).toEqual([
      ['node1', 'http://127.0.0.1:3001'],
      ['node2', 'http://127.0.0.1:3002'],
    ]);
    const service = config.services[0]!;
    expect(service.assign).toBe('roundrobin');
    expect(service.protocols[0]!.batchSize).toBe(500);
    expect(service.protocols[0]!.flags.pushTime).toBe('deliveries_push_time');
    expect(typeof service.protocols[0]!.push.fn).toBe('function');
  });

  it('takes other paths, relative to the folder given', async () => {
    writeFileSync(join(dir, 'my-nodes.ts'), NODES);
    writeFileSync(join(dir, 'my-services.ts'), SERVICES);
    const config = await loadConfig({ nodes: 'my-nodes.ts', services: join(dir, 'my-services.ts') }, dir);
    expect(config.nodes).toHaveLength(2);
  });

  it('says what to do about a missing file', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES);
    const error = await configError(loadConfig({}, dir));
    expect(error.problems).toEqual([
      {
        path: join(dir, 'services.config.ts'),
        message: expect.stringContaining('--services-config') as unknown as string,
      },
    ]);
    expect(error.problems[0]!.message).toMatch(/^file not found; create it/);
  });

  it('names the file that does not parse', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES);
    writeFileSync(join(dir, 'services.config.ts'), 'export default defineServices([{ name: "x", }}]);\n');
    const error = await configError(loadConfig({}, dir));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.path).toBe(join(dir, 'services.config.ts'));
    expect(error.problems[0]!.message).toMatch(/^cannot be loaded: /);
    expect(error.message).toContain('services.config.ts');
  });

  it('names the file without a default export and says what to write', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), 'export const nodes = [];\n');
    writeFileSync(join(dir, 'services.config.ts'), SERVICES);
    const error = await configError(loadConfig({}, dir));
    expect(error.problems).toEqual([
      { path: join(dir, 'nodes.config.ts'), message: 'has no default export; write `export default defineNodes([...])`' },
    ]);
  });

  it('reports a broken file of each kind together', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), 'throw new Error("NODE1_API_KEY is not set");\n');
    writeFileSync(join(dir, 'services.config.ts'), 'export default [;\n');
    const error = await configError(loadConfig({}, dir));
    expect(error.problems.map((p) => p.path)).toEqual([join(dir, 'nodes.config.ts'), join(dir, 'services.config.ts')]);
    expect(error.problems[0]!.message).toBe('cannot be loaded: NODE1_API_KEY is not set');
    expect(error.problems[1]!.message).not.toContain('\n');
  });

  it('reports invalid contents with their paths', async () => {
    writeFileSync(join(dir, 'nodes.config.ts'), NODES.replace("'key-1'", 'undefined'));
    writeFileSync(join(dir, 'services.config.ts'), SERVICES.replace("sort: 'create_time',", ''));
    const error = await configError(loadConfig({}, dir));
    expect(error.problems).toEqual([
      { path: 'services[0].protocols[0].sort', message: 'required' },
      { path: 'nodes[0].apiKey', message: 'required (is its environment variable set?)' },
      { path: 'nodes[1].apiKey', message: 'required (is its environment variable set?)' },
    ]);
  });

  describe('compiled-config cache', () => {
    const saved = process.env.WORKMESH_CACHE_DIR;
    afterEach(() => {
      if (saved === undefined) delete process.env.WORKMESH_CACHE_DIR;
      else process.env.WORKMESH_CACHE_DIR = saved;
    });

    it('keeps the compiled files in WORKMESH_CACHE_DIR and compiles an edited file again', async () => {
      process.env.WORKMESH_CACHE_DIR = join(dir, 'cache');
      writeFileSync(join(dir, 'nodes.config.ts'), NODES);
      writeFileSync(join(dir, 'services.config.ts'), SERVICES);
      const first = await loadConfig({}, dir);
      expect(first.nodes[0]!.url).toBe('http://127.0.0.1:3001');
      expect(readdirSync(join(dir, 'cache', 'config')).filter((f) => f.includes('nodes.config'))).toHaveLength(1);
      // Same path, same length: only the text tells the cached copy is stale.
      writeFileSync(join(dir, 'nodes.config.ts'), NODES.replace('3001', '3009'));
      const second = await loadConfig({}, dir);
      expect(second.nodes[0]!.url).toBe('http://127.0.0.1:3009');
      // And a broken edit is reported, not hidden behind the cached good copy.
      writeFileSync(join(dir, 'nodes.config.ts'), NODES.replace('defineNodes([', 'defineNodes(['.concat('}')));
      const error = await configError(loadConfig({}, dir));
      expect(error.problems[0]!.path).toBe(join(dir, 'nodes.config.ts'));
    });

    it('writes nothing when WORKMESH_CACHE_DIR is off', async () => {
      process.env.WORKMESH_CACHE_DIR = 'off';
      writeFileSync(join(dir, 'nodes.config.ts'), NODES);
      writeFileSync(join(dir, 'services.config.ts'), SERVICES);
      await loadConfig({}, dir);
      expect(existsSync(join(dir, 'off'))).toBe(false);
      expect(existsSync(join(process.cwd(), 'off'))).toBe(false);
    });
  });
});
