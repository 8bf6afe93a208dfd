import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newProject, NODE, ok, SERVICE } from '../helpers/cli-project.js';
import { readAssignments, runMesh, writeConfigFiles } from '../helpers/saas-fixture.js';
import { DIALECTS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`strict entity ids on ${dialect.name}`, () => {
    it('an entity id that does not fit the id column is exit 2 before any statement: entity 3 does not move', async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 1 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      const before = await readAssignments(project.database);
      expect(before[3]).toBe('node1');

      for (const id of ['3 is not an id', '3.0', '0x3', '99999999999999999999', '']) {
        const run = await project.mesh(['reassign', '--service', SERVICE, '--entity', id, '--to', 'node2', '--repush']);
        expect({ id, code: run.code, stdout: run.stdout }).toEqual({ id, code: 2, stdout: '' });
        if (id !== '')
          expect(run.stderr).toMatch(
            /^mesh: service micro\.emails\.timeline: entity id ".*" is (not an integer|out of range) \(column account\.id is \w+/,
          );
        expect(await readAssignments(project.database)).toEqual(before);
      }
      const status = await project.mesh(['status', '--service', SERVICE, '--entity', '3 is not an id']);
      expect(status.code).toBe(2);
      expect(status.stderr).toContain('entity id "3 is not an id" is not an integer');

      // A good id still works: the check refuses only what cannot be an id.
      ok(await project.mesh(['reassign', '--service', SERVICE, '--entity', '3', '--to', 'node2']));
      expect((await readAssignments(project.database))[3]).toBe('node2');
      ok(await project.mesh(['status', '--service', SERVICE, '--entity', '3']));
    });
  });
}

describe('a sqlite: URL to a file that does not exist', () => {
  it('is refused without creating it, naming the file; mesh migrate creates it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-sqlite-typo-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeConfigFiles(dir, { nodes: [NODE(1)] });
    for (const args of [['--nodes'], ['--services'], ['assign'], ['push'], ['status', '--service', SERVICE, '--entity', '1']]) {
      const run = await runMesh([...args, '--db', 'sqlite:./typo-db.sqlite'], {}, { cwd: dir });
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(run.stderr).toBe(
        `mesh: database sqlite:./typo-db.sqlite: no such file (${join(dir, 'typo-db.sqlite')}); check the path, or create it with mesh migrate\n`,
      );
      expect(existsSync(join(dir, 'typo-db.sqlite'))).toBe(false);
    }
    // migrate may create its file (this one then lacks the SaaS tables, which migrate says).
    const migrate = await runMesh(['migrate', '--db', 'sqlite:./new.db'], {}, { cwd: dir });
    expect(migrate.stderr).not.toContain('no such file');
    expect(existsSync(join(dir, 'new.db'))).toBe(true);
  });
});
