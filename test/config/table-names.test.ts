import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate-config.js';
import { saasConfigObjects } from '../helpers/saas-fixture.js';

const NODES = [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k1' }];

function problemsWith(entityTable: string, recordTable: string): string[] {
  const { nodes, services } = saasConfigObjects({ nodes: NODES });
  services[0]!.entity.table = entityTable;
  services[0]!.protocols[0]!.table = recordTable;
  const result = validateConfig(nodes, services);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('table names', () => {
  it('may be qualified by a schema (PostgreSQL) or database (MySQL): schema.table, each part an identifier', () => {
    expect(problemsWith('app.account', 'app.delivery')).toEqual([]);
    expect(problemsWith('_App2.account', 'delivery')).toEqual([]);
  });

  it('refuses more than one qualifier, empty parts and parts that are not identifiers', () => {
    const hint = '(^[A-Za-z_][A-Za-z0-9_]*$)';
    expect(problemsWith('db.app.account', 'app.delivery')).toEqual([
      `services[0].entity.table: "db.app.account" is not an SQL identifier ${hint}`,
    ]);
    expect(problemsWith('account', '.delivery')).toEqual([`services[0].protocols[0].table: ".delivery" is not an SQL identifier ${hint}`]);
    expect(problemsWith('app.', 'app-x.delivery')).toEqual([
      `services[0].entity.table: "app." is not an SQL identifier ${hint}`,
      `services[0].protocols[0].table: "app-x.delivery" is not an SQL identifier ${hint}`,
    ]);
  });
});
