import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { ConfigError } from './config-problem.js';
import type { MeshConfig } from './mesh-config.js';
import { validateConfig } from './validate-config.js';

export interface ConfigPaths {
  nodes: string;
  services: string;
}

export const DEFAULT_CONFIG_PATHS: ConfigPaths = { nodes: 'nodes.config.ts', services: 'services.config.ts' };

/** The package's own entry, so that `import { defineNodes } from 'workmesh'` resolves from any folder. */
const PACKAGE_ENTRY = fileURLToPath(new URL('../index.js', import.meta.url));

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
        message: 'file not found; create it (see README, "Configuration") or point to it with --nodes-config / --services-config',
      })),
    );
  }
  const jiti = createJiti(import.meta.url, {
    alias: { workmesh: PACKAGE_ENTRY },
    moduleCache: false,
    fsCache: false,
    interopDefault: true,
  });
  const nodes = await importDefault(jiti, nodesPath);
  const services = await importDefault(jiti, servicesPath);
  const result = validateConfig(nodes, services);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

async function importDefault(jiti: ReturnType<typeof createJiti>, path: string): Promise<unknown> {
  try {
    return await jiti.import(path, { default: true });
  } catch (error) {
    throw new ConfigError([{ path, message: `cannot be loaded: ${(error as Error).message}` }]);
  }
}
