import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEntityId } from '../../src/db/check-entity-id.js';
import { DatabaseConnectionError, DatabaseUrlError } from '../../src/db/database-url.js';
import { openDatabase } from '../../src/db/open-database.js';
import { NODE } from '../helpers/cli-project.js';
import { runMesh, writeConfigFiles } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase, TEST_SERVER_URLS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The server URL with another database name and, if given, a password. */
function serverUrl(dialect: 'mysql' | 'postgres', database: string, password?: string): string {
  const url = new URL(TEST_SERVER_URLS[dialect]!);
  url.pathname = `/${database}`;
  if (password !== undefined) url.password = password;
  return url.href;
}

async function refusal(url: string): Promise<Error> {
  try {
    const database = await openDatabase(url);
    await database.close();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${url} was opened`);
}

describe('database connection failures', () => {
  it('a URL with bad percent-encoding is a DatabaseUrlError that does not repeat it', async () => {
    const error = await refusal('mysql://root:s3cr%zz@127.0.0.1:3306/app');
    expect(error).toBeInstanceOf(DatabaseUrlError);
    expect(error.message).toBe(
      'database URL: the password is not valid percent-encoding (a % must be followed by two hex digits; write %25 for %)',
    );
  });

  it('a SQLite file in a directory that does not exist is a DatabaseConnectionError naming the file', async () => {
    const error = await refusal('sqlite:/nonexistent-workmesh-dir/saas.db');
    expect(error).toBeInstanceOf(DatabaseConnectionError);
    expect(error.message).toMatch(/^cannot connect to the database sqlite:\/nonexistent-workmesh-dir\/saas\.db: /);
  });

  for (const dialect of ['mysql', 'postgres'] as const) {
    it.skipIf(TEST_SERVER_URLS[dialect] === undefined)(
      `an unknown database on ${dialect} is a DatabaseConnectionError without the password`,
      async () => {
        const error = await refusal(serverUrl(dialect, 'wm_no_such_database', 'Pa55word'));
        // PostgreSQL on a trust connection, MariaDB when the password is wrong: both refuse; neither message may hold it.
        expect(error).toBeInstanceOf(DatabaseConnectionError);
        expect(error.message).toContain('cannot connect to the database ');
        expect(error.message).toContain(':***@');
        expect(error.message).not.toContain('Pa55word');
      },
    );
  }

  it.skipIf(TEST_SERVER_URLS.mysql === undefined)('access denied on mysql is a DatabaseConnectionError', async () => {
    const error = await refusal(serverUrl('mysql', 'test', 'Wr0ngPassword'));
    expect(error).toBeInstanceOf(DatabaseConnectionError);
    expect(error.message).toMatch(/Access denied/);
    expect(error.message).not.toContain('Wr0ngPassword');
  });

  it.skipIf(TEST_SERVER_URLS.postgres === undefined)('mesh exits 2 on an unknown database and names it without the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-connect-'));
    const { nodesConfig, servicesConfig } = writeConfigFiles(dir, { nodes: [NODE(1)] });
    const run = await runMesh([
      'migrate',
      '--nodes-config',
      nodesConfig,
      '--services-config',
      servicesConfig,
      '--db',
      serverUrl('postgres', 'wm_no_such_db', 'Pa55word'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^mesh: cannot connect to the database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/wm_no_such_db: .*wm_no_such_db/,
    );
    expect(run.stderr).not.toContain('Pa55word');
  });
});

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`checkEntityId (${dialect})`, () => {
    it('checks an entity id against its column type before any query uses it', async () => {
      const test = await openTestDatabase(dialect);
      cleanups.push(test.cleanup);
      const { database } = test;
      const uuid = dialect === 'postgres' ? 'uuid' : 'char(36)';
      await sql`create table account (id integer primary key, uid ${sql.raw(uuid)}, code varchar(8))`.execute(database.db);

      expect(await checkEntityId(database, 'account', 'id', '42')).toBeUndefined();
      expect(await checkEntityId(database, 'account', 'id', 'abc')).toMatch(
        /^entity id "abc" is not an integer \(column account\.id is int/,
      );
      if (dialect !== 'sqlite')
        expect(await checkEntityId(database, 'account', 'id', '99999999999')).toMatch(/^entity id "99999999999" is out of range/);
      expect(await checkEntityId(database, 'account', 'code', 'ABCDEFGH')).toBeUndefined();
      expect(await checkEntityId(database, 'account', 'code', 'ABCDEFGHI')).toMatch(
        /is longer than 8 characters \(column account\.code is (varchar|char)/,
      );
      expect(await checkEntityId(database, 'account', 'uid', '7d0f6a52-3c1e-4c4b-9a51-0c2b1b1f6a10')).toBeUndefined();
      if (dialect === 'postgres') {
        expect(await checkEntityId(database, 'account', 'uid', 'not-a-uuid')).toBe(
          'entity id "not-a-uuid" is not a uuid (column account.uid is uuid)',
        );
      }
      expect(await checkEntityId(database, 'account', 'nope', '1')).toBe('column "account.nope" does not exist');
    });
  });
}
