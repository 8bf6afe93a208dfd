import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { packageFile } from '../package-files.js';
import { configCacheDir, prepareConfigCacheDir, tightenConfigCacheFiles } from './config-cache-dir.js';
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

/** How long loading the config files may take; WORKMESH_CONFIG_TIMEOUT_MS overrides it. */
export const DEFAULT_CONFIG_TIMEOUT_MS = 30_000;

export interface LoadConfigOptions {
  /**
   * Told what went wrong without stopping the load (a cache folder refused);
   * `process.emitWarning` when left out, so that it is never silent.
   */
  onWarning?: (message: string) => void;
  /** Time limit for loading both files; WORKMESH_CONFIG_TIMEOUT_MS, else 30 s, when left out. */
  timeoutMs?: number;
}

/**
 * Loads `nodes.config.ts` and `services.config.ts` at run time (no build step
 * for the user) and validates them together. Throws a ConfigError listing
 * every problem.
 */
export async function loadConfig(
  paths: Partial<ConfigPaths> = {},
  cwd = process.cwd(),
  options: LoadConfigOptions = {},
): Promise<MeshConfig> {
  const nodesPath = resolve(cwd, paths.nodes ?? DEFAULT_CONFIG_PATHS.nodes);
  const servicesPath = resolve(cwd, paths.services ?? DEFAULT_CONFIG_PATHS.services);
  const missing = [nodesPath, servicesPath].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map((p) => ({
        path: p,
        message:
          'file not found; create it (see README, "Using it on your own database") or point to it with --nodes-config / --services-config',
      })),
    );
  }
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'WorkmeshWarning'));
  let cacheDir = configCacheDir();
  if (cacheDir !== false) {
    const refused = prepareConfigCacheDir(cacheDir);
    if (refused !== undefined) {
      warn(`not using the compiled-config cache: ${refused}; compiling without it (remove the folder, or set WORKMESH_CACHE_DIR)`);
      cacheDir = false;
    }
  }
  const jiti = createJiti(import.meta.url, {
    alias: { workmesh: packageEntry() },
    moduleCache: false,
    fsCache: cacheDir,
    interopDefault: true,
  });
  const limit = configTimeLimit(options.timeoutMs);
  // Both files are read before failing, so that a problem in each is reported at once.
  const nodes = await importDefault(jiti, nodesPath, 'defineNodes', limit);
  const services = await importDefault(jiti, servicesPath, 'defineServices', limit);
  if (cacheDir !== false) tightenConfigCacheFiles(cacheDir);
  const unreadable = [nodes, services].flatMap((r) => ('problem' in r ? [r.problem] : []));
  const givenUp = [nodes, services].some((r) => 'givenUp' in r);
  if (unreadable.length > 0) throw new ConfigError(unreadable, { givenUp });
  const result = validateConfig((nodes as { value: unknown }).value, (services as { value: unknown }).value, {
    baseDir: dirname(nodesPath),
  });
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

function configTimeLimit(given: number | undefined): number {
  if (given !== undefined) return given;
  const fromEnv = Number(process.env.WORKMESH_CONFIG_TIMEOUT_MS);
  return Number.isInteger(fromEnv) && fromEnv > 0 && fromEnv <= 2 ** 31 - 1 ? fromEnv : DEFAULT_CONFIG_TIMEOUT_MS;
}

/** Why a config file's evaluation was given up on. */
class StuckLoad extends Error {}

/**
 * A config file's top-level `await` that never settles would leave `mesh`
 * with nothing to do: with no timer or socket left, Node would end the
 * process with status 0 and no output. Loading therefore fails when the
 * event loop runs dry while it is pending, or after `timeoutMs` when the
 * file keeps something else alive (the timer itself is unref'd, so as not to
 * hide the first case for 30 s).
 */
async function withinTimeLimit<T>(loading: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onDry: (() => void) | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StuckLoad(`did not finish loading within ${timeoutMs} ms (a top-level await that never settles?)`)),
      timeoutMs,
    );
    timer.unref();
    onDry = () => reject(new StuckLoad('never finished loading: it awaits something that cannot settle (a top-level await on nothing)'));
    process.once('beforeExit', onDry);
  });
  try {
    return await Promise.race([loading, stuck]);
  } finally {
    clearTimeout(timer);
    if (onDry !== undefined) process.removeListener('beforeExit', onDry);
  }
}

async function importDefault(
  jiti: ReturnType<typeof createJiti>,
  path: string,
  helper: string,
  timeoutMs: number,
): Promise<{ value: unknown } | { problem: ConfigProblem; givenUp?: true }> {
  let module: unknown;
  try {
    module = await withinTimeLimit(jiti.import(path), timeoutMs);
  } catch (error) {
    if (error instanceof StuckLoad) return { problem: { path, message: error.message }, givenUp: true };
    // Parser messages carry line breaks and padding before the location; one line reads better in a list.
    const message = error instanceof Error ? error.message : String(error);
    return { problem: { path, message: `cannot be loaded: ${message.replace(/\s+/g, ' ').trim()}` } };
  }
  if (module !== null && typeof module === 'object' && 'default' in module) return { value: module.default };
  // `export = [...]` in a CommonJS-style file gives the array itself.
  if (Array.isArray(module)) return { value: module };
  return { problem: { path, message: `has no default export; write \`export default ${helper}([...])\`` } };
}
