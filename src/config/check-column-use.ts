import type { ConfigProblem } from './config-problem.js';
import { FLAG_NAMES, type ResolvedProtocol, type ResolvedService } from './mesh-config.js';

/** A validated service with the config paths of it and of its protocols, for messages. */
export interface PlacedService {
  path: string;
  service: ResolvedService;
  protocols: { path: string; protocol: ResolvedProtocol }[];
}

/**
 * The checks that span services: columns the engine writes must belong to
 * one owner each. Two services sharing a node column would assign each
 * other's entities; a pull result written into an id, entityRef, sort, flag
 * or node column would move records (`{ acct: 'id_account' }` handed a
 * node's records to another account) or break their state. Flag columns
 * shared by two protocols are checked where the flags are resolved.
 */
export function checkColumnUse(services: PlacedService[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  /** `table\0column` → who writes it. */
  const owners = new Map<string, Owner>();
  const key = (table: string, column: string): string => `${table}\u0000${column}`;

  for (const { path, service } of services) {
    const { table, node } = service.entity;
    const owner = owners.get(key(table, node));
    if (owner !== undefined) {
      problems.push({ path: `${path}.entity.node`, message: `column "${node}" of table "${table}" is already ${owner.text}` });
    } else
      owners.set(key(table, node), { service: service.name, text: `the node column of service "${service.name}" (${path}.entity.node)` });
  }
  // Only node columns are in the map yet: a flag against another flag, or against its own service's
  // node column, is reported where the flags are resolved.
  for (const { service, protocols } of services) {
    for (const { path, protocol } of protocols) {
      for (const flag of FLAG_NAMES) {
        const owner = owners.get(key(protocol.table, protocol.flags[flag]));
        if (owner === undefined || owner.service === service.name) continue;
        problems.push({
          path: `${path}.flags.${flag}`,
          message: `column "${protocol.flags[flag]}" of table "${protocol.table}" is already ${owner.text}`,
        });
      }
    }
  }
  for (const { service, protocols } of services) {
    for (const { path, protocol } of protocols) {
      for (const flag of FLAG_NAMES) {
        const k = key(protocol.table, protocol.flags[flag]);
        if (!owners.has(k))
          owners.set(k, { service: service.name, text: `the ${flag} flag of protocol "${protocol.name}" (${path}.flags.${flag})` });
      }
    }
  }
  for (const { protocols } of services) {
    for (const { path, protocol } of protocols) problems.push(...checkPullColumns(protocol, `${path}.pull.columns`, owners));
  }
  return problems;
}

interface Owner {
  service: string;
  text: string;
}

function checkPullColumns(protocol: ResolvedProtocol, path: string, owners: Map<string, Owner>): ConfigProblem[] {
  const columns = protocol.pull?.columns;
  if (columns === undefined) return [];
  const problems: ConfigProblem[] = [];
  const own = new Map<string, string>([
    [protocol.id, 'the id column'],
    [protocol.sort, 'the sort column'],
    ...(protocol.entityRef === undefined ? [] : ([[protocol.entityRef, 'the entityRef column']] as const)),
  ]);
  const targets = new Map<string, string>();
  for (const [field, column] of Object.entries(columns)) {
    const other = targets.get(column);
    if (other !== undefined) {
      problems.push({
        path: `${path}.${field}`,
        message: `column "${column}" also receives result field "${other}"; each field needs a column of its own`,
      });
      continue;
    }
    targets.set(column, field);
    const owner = own.get(column) ?? owners.get(`${protocol.table}\u0000${column}`)?.text;
    if (owner !== undefined) {
      problems.push({
        path: `${path}.${field}`,
        message: `column "${column}" of table "${protocol.table}" is ${owner}; a node's result must not overwrite it`,
      });
    }
  }
  return problems;
}
