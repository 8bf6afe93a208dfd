// Bundles the compiled CLI (dist/cli/mesh.js, written by tsc) into that same
// file. Loading Kysely and undici as hundreds of separate modules took half
// of `mesh`'s start-up (0.42 s and 84 MB for an idle `mesh push`, against
// 0.16 s and 66 MB bundled): a cron job pays it on every run.
// Left out of the bundle, and loaded from node_modules as before: the native
// and lazily loaded drivers, the SSH client, and jiti (it loads Babel by a
// path of its own).
import { build } from 'esbuild';

const entry = new URL('../dist/cli/mesh.js', import.meta.url).pathname;

await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'mysql2', 'pg', 'node-ssh', 'ssh2', 'jiti'],
  // Whitespace and syntax only: names stay, so a stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  // Bundled CommonJS (undici) calls require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __workmeshRequire } from 'node:module';\nconst require = __workmeshRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
