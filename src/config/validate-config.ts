import { checkColumnUse, type PlacedService } from './check-column-use.js';
import type { ConfigProblem } from './config-problem.js';
import { maskUrlPassword } from './mask-url-password.js';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_ATTEMPTS,
  FLAG_NAMES,
  defaultFlagColumn,
  type MeshConfig,
  type ResolvedProtocol,
  type ResolvedService,
} from './mesh-config.js';
import type { NodeConfig } from './node-config.js';
import { resolveConfigPaths } from './resolve-config-paths.js';
import { unsafeNameReason } from './safe-name.js';
import type { AssignCriterion, EntityConfig, FlagColumns, ServiceConfig } from './service-config.js';
import { MAX_TIMER_MS } from './timer-limits.js';

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A table, optionally qualified by its PostgreSQL schema or MySQL database: `accounts`, `app.accounts`. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const CRITERIA: readonly AssignCriterion[] = ['roundrobin', 'entitynumber', 'entityweight'];

export type ValidationResult = { ok: true; config: MeshConfig } | { ok: false; problems: ConfigProblem[] };

type Obj = Record<string, unknown>;

/** Collects problems; every check reports and goes on, so the user sees them all at once. */
class Checker {
  readonly problems: ConfigProblem[] = [];

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  object(value: unknown, path: string): value is Obj {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return true;
    this.add(path, value === undefined ? 'required' : 'must be an object');
    return false;
  }

  knownKeys(obj: Obj, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.add(`${path}.${key}`, `unknown key (expected one of: ${allowed.join(', ')})`);
    }
  }

  string(obj: Obj, key: string, path: string, opts: { optional?: boolean; hint?: string } = {}): string | undefined {
    const value = obj[key];
    if (value === undefined && opts.optional) return undefined;
    if (value === undefined || value === '') {
      this.add(`${path}.${key}`, `required${opts.hint ? ` (${opts.hint})` : ''}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.add(`${path}.${key}`, 'must be a string');
      return undefined;
    }
    return value;
  }

  identifier(obj: Obj, key: string, path: string, optional = false): string | undefined {
    const value = this.string(obj, key, path, { optional });
    if (value !== undefined && !IDENTIFIER.test(value)) {
      this.add(`${path}.${key}`, `"${value}" is not an SQL identifier (${IDENTIFIER.source})`);
      return undefined;
    }
    return value;
  }

  table(obj: Obj, key: string, path: string): string | undefined {
    const value = this.string(obj, key, path);
    if (value !== undefined && !TABLE_NAME.test(value)) {
      // Worded as for any identifier; the README's "Tables in another schema" says a qualifier may precede it.
      this.add(`${path}.${key}`, `"${value}" is not an SQL identifier (${IDENTIFIER.source})`);
      return undefined;
    }
    return value;
  }

  urlPath(obj: Obj, key: string, path: string): string | undefined {
    const value = this.string(obj, key, path);
    if (value !== undefined && !value.startsWith('/')) {
      this.add(`${path}.${key}`, `must start with "/" (got "${value}")`);
      return undefined;
    }
    return value;
  }

  number(obj: Obj, key: string, path: string, opts: { integer?: boolean; min: number; max?: number }): number | undefined {
    const value = obj[key];
    if (value === undefined) return undefined;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!opts.integer || Number.isInteger(value)) &&
      value >= opts.min &&
      (opts.max === undefined || value <= opts.max);
    if (!ok) {
      const range = opts.max === undefined ? `>= ${opts.min}` : `from ${opts.min} to ${opts.max}`;
      this.add(`${path}.${key}`, `must be ${opts.integer ? 'an integer' : 'a number'} ${range}`);
      return undefined;
    }
    return value;
  }

  array(value: unknown, path: string): value is unknown[] {
    if (Array.isArray(value)) return true;
    this.add(path, value === undefined ? 'required' : 'must be an array');
    return false;
  }
}

export interface ValidateOptions {
  /**
   * The folder of nodes.config.ts: file paths in it (`tls.ca`,
   * `ssh.privateKeyPath`, `ssh.knownHosts`) are resolved against it and the
   * files checked. Left out, paths are kept as written and not checked.
   */
  baseDir?: string;
}

/**
 * Checks both configuration files together (a node's services must exist)
 * and fills in every default. Nothing is thrown: all problems come back.
 */
export function validateConfig(nodesInput: unknown, servicesInput: unknown, options: ValidateOptions = {}): ValidationResult {
  const check = new Checker();
  const { services, declared, placed } = validateServices(check, servicesInput);
  let nodes = validateNodes(check, nodesInput, declared);
  for (const problem of checkColumnUse(placed)) check.add(problem.path, problem.message);
  if (options.baseDir !== undefined) {
    const resolved = resolveConfigPaths(nodes, options.baseDir);
    for (const problem of resolved.problems) check.add(problem.path, problem.message);
    nodes = resolved.nodes;
  }
  if (check.problems.length > 0) return { ok: false, problems: check.problems.map((p) => ({ ...p, message: maskUrlPassword(p.message) })) };
  return { ok: true, config: { nodes, services } };
}

const NODE_KEYS = ['name', 'url', 'apiKey', 'services', 'timeoutMs', 'tls', 'ssh', 'deploy', 'maxAnswerBytes'] as const;
/** Past this a body decoded as text may exceed V8's longest string (about 512 M characters). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;
const SSH_KEYS = ['host', 'port', 'username', 'privateKeyPath', 'password', 'hostKey', 'knownHosts', 'connectTimeoutMs'] as const;

function validateNodes(check: Checker, input: unknown, serviceNames: Set<string>): NodeConfig[] {
  if (!check.array(input, 'nodes')) return [];
  const seen = new Set<string>();
  input.forEach((node, i) => {
    const path = `nodes[${i}]`;
    if (!check.object(node, path)) return;
    check.knownKeys(node, path, NODE_KEYS);
    const name = check.string(node, 'name', path);
    if (name !== undefined) {
      const unsafe = unsafeNameReason(name);
      if (unsafe !== undefined) check.add(`${path}.name`, unsafe);
      else if (seen.has(name)) check.add(`${path}.name`, `"${name}" is used by another node`);
      seen.add(name);
    }
    const url = check.string(node, 'url', path);
    if (url !== undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        check.add(`${path}.url`, `"${maskUrlPassword(url)}" is not a URL`);
      }
      if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        check.add(`${path}.url`, `must be http or https (got ${parsed.protocol.replace(':', '')})`);
      }
    }
    check.string(node, 'apiKey', path, { hint: 'is its environment variable set?' });
    if (check.object(node.services, `${path}.services`)) {
      for (const [service, capacity] of Object.entries(node.services)) {
        const cpath = `${path}.services["${service}"]`;
        if (!serviceNames.has(service)) check.add(cpath, `service "${service}" is not declared in services.config.ts`);
        if (!check.object(capacity, cpath)) continue;
        check.knownKeys(capacity, cpath, ['maxEntities', 'maxWeight']);
        check.number(capacity, 'maxEntities', cpath, { integer: true, min: 0 });
        check.number(capacity, 'maxWeight', cpath, { min: 0 });
      }
    }
    check.number(node, 'timeoutMs', path, { integer: true, min: 1, max: MAX_TIMER_MS });
    check.number(node, 'maxAnswerBytes', path, { integer: true, min: 1, max: MAX_ANSWER_BYTES });
    if (node.tls !== undefined && check.object(node.tls, `${path}.tls`)) {
      check.knownKeys(node.tls, `${path}.tls`, ['ca']);
      check.string(node.tls, 'ca', `${path}.tls`, { optional: true });
    }
    if (node.ssh !== undefined) validateSsh(check, node.ssh, `${path}.ssh`);
    if (node.deploy !== undefined && check.array(node.deploy, `${path}.deploy`)) {
      node.deploy.forEach((command, j) => {
        if (typeof command !== 'string' || command.trim() === '') check.add(`${path}.deploy[${j}]`, 'must be a non-empty command string');
      });
    }
  });
  return input as NodeConfig[];
}

function validateSsh(check: Checker, ssh: unknown, path: string): void {
  if (!check.object(ssh, path)) return;
  check.knownKeys(ssh, path, SSH_KEYS);
  check.string(ssh, 'host', path);
  check.string(ssh, 'username', path);
  check.number(ssh, 'port', path, { integer: true, min: 1, max: 65535 });
  check.number(ssh, 'connectTimeoutMs', path, { integer: true, min: 1, max: MAX_TIMER_MS });
  const hasKey = 'privateKeyPath' in ssh;
  const hasPassword = 'password' in ssh;
  if (hasKey && hasPassword) check.add(path, 'set privateKeyPath or password, not both');
  else if (!hasKey && !hasPassword) check.add(path, 'set privateKeyPath or password');
  else if (hasKey) check.string(ssh, 'privateKeyPath', path);
  else check.string(ssh, 'password', path, { hint: 'is its environment variable set?' });
  const hostKey = check.string(ssh, 'hostKey', path, { optional: true });
  if (hostKey !== undefined && !hostKey.startsWith('SHA256:')) {
    check.add(`${path}.hostKey`, 'must be a SHA256 fingerprint, "SHA256:…" as ssh-keygen -lf prints it');
  }
  check.string(ssh, 'knownHosts', path, { optional: true });
}

const SERVICE_KEYS = ['name', 'entity', 'assign', 'protocols', 'failover'] as const;
const ENTITY_KEYS = ['table', 'id', 'node', 'weight'] as const;
const PROTOCOL_KEYS = [
  'name',
  'table',
  'id',
  'sort',
  'entityRef',
  'batchSize',
  'push',
  'pull',
  'flags',
  'maxAttempts',
  'settleMs',
] as const;

/**
 * `declared` holds every service name, valid service or not, so that a
 * problem in a service is not echoed as "not declared" on each of its nodes.
 */
function validateServices(check: Checker, input: unknown): { services: ResolvedService[]; declared: Set<string>; placed: PlacedService[] } {
  const resolved: ResolvedService[] = [];
  const seen = new Set<string>();
  const placed: PlacedService[] = [];
  if (!check.array(input, 'services')) return { services: resolved, declared: seen, placed };
  // Flag columns per table across every service: two protocols sharing one would overwrite each other's state.
  const flagOwners = new Map<string, string>();
  input.forEach((service, i) => {
    const path = `services[${i}]`;
    if (!check.object(service, path)) return;
    check.knownKeys(service, path, SERVICE_KEYS);
    const name = check.string(service, 'name', path);
    // A second service of the same name shares its columns too; one problem says enough.
    const duplicateName = name !== undefined && seen.has(name);
    if (name !== undefined) {
      const unsafe = unsafeNameReason(name);
      if (unsafe !== undefined) check.add(`${path}.name`, unsafe);
      else if (seen.has(name)) check.add(`${path}.name`, `"${name}" is used by another service`);
      seen.add(name);
    }
    const entity = validateEntity(check, service.entity, `${path}.entity`);
    let assign: AssignCriterion = 'roundrobin';
    if (service.assign !== undefined) {
      if (CRITERIA.includes(service.assign as AssignCriterion)) assign = service.assign as AssignCriterion;
      else check.add(`${path}.assign`, `must be one of ${CRITERIA.join(', ')}`);
    }
    if (assign === 'entityweight' && entity && entity.weight === undefined) {
      check.add(`${path}.entity.weight`, 'required when assign is "entityweight"');
    }
    if (service.failover !== undefined && check.object(service.failover, `${path}.failover`)) {
      check.knownKeys(service.failover, `${path}.failover`, ['afterMs']);
      if (service.failover.afterMs === undefined) check.add(`${path}.failover.afterMs`, 'required');
      else check.number(service.failover, 'afterMs', `${path}.failover`, { integer: true, min: 1, max: MAX_TIMER_MS });
    }
    const protocols: ResolvedProtocol[] = [];
    const protocolPaths: PlacedService['protocols'] = [];
    if (check.array(service.protocols, `${path}.protocols`)) {
      if (service.protocols.length === 0) check.add(`${path}.protocols`, 'must declare at least one protocol');
      const protocolNames = new Set<string>();
      service.protocols.forEach((protocol, j) => {
        const ppath = `${path}.protocols[${j}]`;
        const resolvedProtocol = validateProtocol(check, protocol, ppath, entity);
        // Checked on the raw name, so that it is reported along with the protocol's other problems.
        const protocolName = (protocol as Obj | null)?.name;
        const duplicate = typeof protocolName === 'string' && protocolNames.has(protocolName);
        if (duplicate) check.add(`${ppath}.name`, `"${protocolName}" is used by another protocol of this service`);
        if (typeof protocolName === 'string' && protocolName !== '') protocolNames.add(protocolName);
        if (!resolvedProtocol) return;
        // A duplicate name shares its default flag columns too; one problem says enough.
        if (!duplicate) checkSharedFlags(check, resolvedProtocol, ppath, flagOwners);
        protocols.push(resolvedProtocol);
        protocolPaths.push({ path: ppath, protocol: resolvedProtocol });
      });
    }
    if (name !== undefined && entity) {
      const resolvedService: ResolvedService = { ...(service as unknown as ServiceConfig), name, entity, assign, protocols };
      resolved.push(resolvedService);
      if (!duplicateName) placed.push({ path, service: resolvedService, protocols: protocolPaths });
    }
  });
  return { services: resolved, declared: seen, placed };
}

function checkSharedFlags(check: Checker, protocol: ResolvedProtocol, path: string, owners: Map<string, string>): void {
  const clashes = new Map<string, string[]>();
  for (const flag of FLAG_NAMES) {
    const column = protocol.flags[flag];
    const owner = owners.get(`${protocol.table}\u0000${column}`);
    if (owner !== undefined) clashes.set(owner, [...(clashes.get(owner) ?? []), column]);
  }
  // One line per clashing protocol: usually all seven default columns clash at once (same protocol name).
  for (const [owner, columns] of clashes) {
    const one = columns.length === 1;
    check.add(
      `${path}.flags`,
      `${one ? 'column' : 'columns'} ${columns.join(', ')} of table "${protocol.table}" already ${one ? 'holds' : 'hold'} ` +
        `the flags of ${owner}; rename this protocol or name its flags`,
    );
  }
  for (const flag of FLAG_NAMES) {
    const key = `${protocol.table}\u0000${protocol.flags[flag]}`;
    if (!owners.has(key)) owners.set(key, path);
  }
}

function validateEntity(check: Checker, entity: unknown, path: string): EntityConfig | undefined {
  if (!check.object(entity, path)) return undefined;
  check.knownKeys(entity, path, ENTITY_KEYS);
  const table = check.table(entity, 'table', path);
  const id = check.identifier(entity, 'id', path);
  const node = check.identifier(entity, 'node', path);
  if (entity.weight !== undefined && typeof entity.weight !== 'function') check.identifier(entity, 'weight', path);
  if (table === undefined || id === undefined || node === undefined) return undefined;
  return entity as unknown as EntityConfig;
}

function validateProtocol(check: Checker, protocol: unknown, path: string, entity: EntityConfig | undefined): ResolvedProtocol | undefined {
  if (!check.object(protocol, path)) return undefined;
  check.knownKeys(protocol, path, PROTOCOL_KEYS);
  const problemsBefore = check.problems.length;
  const name = check.string(protocol, 'name', path);
  const table = check.table(protocol, 'table', path);
  const id = check.identifier(protocol, 'id', path);
  const sort = check.identifier(protocol, 'sort', path);
  const entityRef = check.identifier(protocol, 'entityRef', path, true);
  if (entityRef === undefined && protocol.entityRef === undefined && entity && table !== undefined && table !== entity.table) {
    check.add(`${path}.entityRef`, `required: table "${table}" is not the entity table "${entity.table}"`);
  }
  const batchSize = check.number(protocol, 'batchSize', path, { integer: true, min: 1, max: 10_000 });
  const maxAttempts = check.number(protocol, 'maxAttempts', path, { integer: true, min: 1 });
  check.number(protocol, 'settleMs', path, { integer: true, min: 0, max: MAX_TIMER_MS });
  validatePush(check, protocol.push, `${path}.push`);
  if (protocol.pull !== undefined) validatePull(check, protocol.pull, `${path}.pull`);
  const flags = resolveFlags(check, protocol, path, name);
  if (flags) {
    const used = new Map<string, string>();
    for (const [key, column] of [
      ['id', id],
      ['sort', sort],
      ['entityRef', entityRef],
    ] as const) {
      if (column !== undefined) used.set(column, key);
    }
    // On the entity table itself, the flags also sit next to the assignment (and weight) columns.
    if (entity && table === entity.table) {
      for (const [key, column] of [
        ['entity.node', entity.node],
        ['entity.weight', entity.weight],
      ] as const) {
        if (typeof column === 'string' && !used.has(column)) used.set(column, key);
      }
    }
    for (const flag of FLAG_NAMES) {
      const other = used.get(flags[flag]);
      if (other !== undefined) check.add(`${path}.flags.${flag}`, `column "${flags[flag]}" is already used by ${other}`);
      used.set(flags[flag], `flags.${flag}`);
    }
  }
  if (check.problems.length > problemsBefore || !flags || name === undefined) return undefined;
  return {
    ...(protocol as unknown as ResolvedProtocol),
    batchSize: batchSize ?? DEFAULT_BATCH_SIZE,
    maxAttempts: maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    flags,
  };
}

function validatePush(check: Checker, push: unknown, path: string): void {
  if (!check.object(push, path)) return;
  check.knownKeys(push, path, ['path', 'fn']);
  const hasPath = push.path !== undefined;
  const hasFn = push.fn !== undefined;
  if (hasPath && hasFn) check.add(path, 'set path or fn, not both');
  else if (!hasPath && !hasFn) check.add(path, 'set path or fn');
  else if (hasFn) {
    if (typeof push.fn !== 'function') check.add(`${path}.fn`, 'must be a function');
  } else check.urlPath(push, 'path', path);
}

function validatePull(check: Checker, pull: unknown, path: string): void {
  if (!check.object(pull, path)) return;
  check.knownKeys(pull, path, ['statusPath', 'path', 'columns', 'fn', 'sweepAfterMs']);
  check.urlPath(pull, 'statusPath', path);
  check.urlPath(pull, 'path', path);
  check.number(pull, 'sweepAfterMs', path, { integer: true, min: 0, max: MAX_TIMER_MS });
  if (pull.columns !== undefined && pull.fn !== undefined) check.add(path, 'set columns or fn, not both');
  if (pull.fn !== undefined && typeof pull.fn !== 'function') check.add(`${path}.fn`, 'must be a function');
  if (pull.columns !== undefined && check.object(pull.columns, `${path}.columns`)) {
    for (const [field, column] of Object.entries(pull.columns)) {
      if (typeof column !== 'string' || !IDENTIFIER.test(column)) {
        check.add(`${path}.columns.${field}`, `"${String(column)}" is not an SQL identifier (${IDENTIFIER.source})`);
      }
    }
  }
}

function resolveFlags(check: Checker, protocol: Obj, path: string, name: string | undefined): FlagColumns | undefined {
  const given = protocol.flags ?? {};
  if (!check.object(given, `${path}.flags`)) return undefined;
  check.knownKeys(given, `${path}.flags`, FLAG_NAMES);
  const flags: Partial<FlagColumns> = {};
  let ok = true;
  for (const flag of FLAG_NAMES) {
    if (given[flag] !== undefined) {
      const column = check.identifier(given, flag, `${path}.flags`);
      if (column === undefined) ok = false;
      else flags[flag] = column;
    } else if (name !== undefined) {
      const column = defaultFlagColumn(name, flag);
      if (!IDENTIFIER.test(column)) {
        check.add(`${path}.flags.${flag}`, `default column "${column}" is not an SQL identifier; name it in flags.${flag}`);
        ok = false;
      } else flags[flag] = column;
    } else ok = false;
  }
  return ok ? (flags as FlagColumns) : undefined;
}
