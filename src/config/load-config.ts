import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { packageFile } from '../package-files.js';
import { ConfigError, type ConfigProblem } from './config-problem.js';
import type { MeshConfig } from './mesh-config.js';
import { validateConfig } from './validate-config.js';

export interface ConfigPaths {
  nodes: string;
  services: string;
}

export const DEFAULT_CONFIG_PATHS: ConfigPaths = { nodes: 'nodes.config.ts', services: 'services.config.ts' };

/**
 * The package's own entry, so that `import { defineNodes } from 'workmesh'`
 * resolves from any folder: dist/src/index.js once built, src/index.ts when
 * the package is not built (tests from source). Named explicitly rather than
 * left to jiti's guess of a `.ts` file behind a missing `.js` one.
 */
function packageEntry(): string {
  const built = packageFile('dist/src/index.js');
  const source = packageFile('src/index.ts');
  return existsSync(built) || !existsSync(source) ? built : source;
}

/**
 * Where the JavaScript compiled from the `.ts` configuration is kept between
 * runs: compiling loads Babel, which costs some 150 ms and 25 MB of memory
 * for the whole run; a cron job that runs `mesh` every minute compiles once.
 * Entries are keyed by the file's path and checked against a hash of its
 * text, so an edited file is compiled again. The folder is the user's own
 * (not a shared /tmp, where another user could plant code that we would
 * run); WORKMESH_CACHE_DIR names another, `off` turns the cache off.
 */
function configCacheDir(): string | false {
  const chosen = process.env.WORKMESH_CACHE_DIR;
  if (chosen === 'off') return false;
  if (chosen !== undefined && chosen !== '') return resolve(chosen, 'config');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'workmesh', 'config');
}

/**
 * Loads `nodes.config.ts` and `services.config.ts` at run time (no build step
 * for the user) and validates them together. Throws a ConfigError listing
 * every problem.
 */
export async function loadConfig(paths: Partial<ConfigPaths> = {}, cwd = process.cwd()): Promise<MeshConfig> {
  const nodesPath = resolve(cwd, paths.nodes ?? DEFAULT_CONFIG_PATHS.nodes);
  const servicesPath = resolve(cwd, paths.services ?? DEFAULT_CONFIG_PATHS.services);
  const missing = [nodesPath, servicesPath].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((p) => ({
        path: p,
        message: 'file not found; create it (see README, "Using it on your own database") or point to it with --nodes-config / --services-config',
      })),
    );
  }
  const jiti = createJiti(import.meta.url, {
    alias: { workmesh: packageEntry() },
    moduleCache: false,
    fsCache: configCacheDir(),
    interopDefault: true,
  });
  // Both files are read before failing, so that a problem in each is reported at once.
  const nodes = await importDefault(jiti, nodesPath, 'defineNodes');
  const services = await importDefault(jiti, servicesPath, 'defineServices');
  const unreadable = [nodes, services].flatMap((r) => ('problem' in r ? [r.problem] : []));
  if (unreadable.length > 0) throw new ConfigError(unreadable);
  const result = validateConfig((nodes as { value: unknown }).value, (services as { value: unknown }).value);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

async function importDefault(
  jiti: ReturnType<typeof createJiti>,
  path: string,
  helper: string,
): Promise<{ value: unknown } | { problem: ConfigProblem }> {
  let module: unknown;
  try {
    module = await jiti.import(path);
  } catch (error) {
    // Parser messages carry line breaks and padding before the location; one line reads better in a list.
    const message = error instanceof Error ? error.message : String(error);
    return { problem: { path, message: `cannot be loaded: ${message.replace(/\s+/g, ' ').trim()}` } };
  }
  if (module !== null && typeof module === 'object' && 'default' in module) return { value: module.default };
  // `export = [...]` in a CommonJS-style file gives the array itself.
  if (Array.isArray(module)) return { value: module };
  return { problem: { path, message: `has no default export; write \`export default ${helper}([...])\`` } };
}
