import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The workmesh package's own folder: the nearest folder above this module
 * whose package.json is named `workmesh`. Found by walking up rather than by
 * a fixed `../..`, because this module runs from three places: src/ (tests),
 * dist/src/ (the library) and the bundled CLI in dist/cli/.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'workmesh') {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the workmesh package above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A file of the package, by its path from the package's folder (`dist/examples/demo-node.js`). */
export function packageFile(path: string): string {
  return join(packageRoot(), path);
}
