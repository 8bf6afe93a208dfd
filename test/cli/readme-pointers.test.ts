import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/saas-fixture.js';

/** Every `.ts` file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('messages that point to the README', () => {
  it('point to a section it has', () => {
    const headings = new Set(
      readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
        .split('\n')
        .filter((line) => /^#{2,4} /.test(line))
        .map((line) => line.replace(/^#+ /, '').trim()),
    );
    const pointers: { file: string; section: string }[] = [];
    for (const file of [...sources('src'), ...sources('cli')]) {
      for (const match of readFileSync(file, 'utf8').matchAll(/README(?:\.md)?,? "([^"]+)"/g)) pointers.push({ file, section: match[1]! });
    }
    // The two known pointers at least: a scan that finds nothing would pass for nothing.
    expect(pointers.map((p) => p.section)).toEqual(
      expect.arrayContaining(['Using it on your own database', 'Renaming or removing a node']),
    );
    for (const pointer of pointers) expect({ ...pointer, exists: headings.has(pointer.section) }).toEqual({ ...pointer, exists: true });
  });
});
