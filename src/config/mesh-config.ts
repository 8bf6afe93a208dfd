import type { NodeConfig } from './node-config.js';
import { UnknownNameError } from './unknown-name-error.js';
import type { AssignCriterion, EntityConfig, FlagColumns, ProtocolConfig, ServiceConfig } from './service-config.js';

/** A protocol after validation, with every default filled in. */
export interface ResolvedProtocol extends Omit<ProtocolConfig, 'flags' | 'batchSize' | 'maxAttempts'> {
  batchSize: number;
  maxAttempts: number;
  flags: FlagColumns;
}

export interface ResolvedService extends Omit<ServiceConfig, 'assign' | 'protocols'> {
  entity: EntityConfig;
  assign: AssignCriterion;
  protocols: ResolvedProtocol[];
}

/** The validated configuration the engine works from. */
export interface MeshConfig {
  nodes: NodeConfig[];
  services: ResolvedService[];
}

export const DEFAULT_BATCH_SIZE = 500;
export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_TIMEOUT_MS = 30_000;

const FLAG_SUFFIXES: Record<keyof FlagColumns, string> = {
  pushTime: 'push_time',
  pushSuccess: 'push_success',
  pushError: 'push_error',
  pushAttempts: 'push_attempts',
  pushNode: 'push_node',
  pullTime: 'pull_time',
  pullSuccess: 'pull_success',
  pullError: 'pull_error',
};

export const FLAG_NAMES = Object.keys(FLAG_SUFFIXES) as (keyof FlagColumns)[];

/** `<protocol>_<flag>` in snake case: `deliveries_push_time`. */
export function defaultFlagColumn(protocol: string, flag: keyof FlagColumns): string {
  return `${protocol}_${FLAG_SUFFIXES[flag]}`;
}

export function nodesOfService(config: MeshConfig, service: string): NodeConfig[] {
  return config.nodes.filter((node) => Object.hasOwn(node.services, service));
}

export function findService(config: MeshConfig, name: string): ResolvedService | undefined {
  return config.services.find((service) => service.name === name);
}

export function requireService(config: MeshConfig, name: string): ResolvedService {
  const service = findService(config, name);
  if (!service) {
    throw new UnknownNameError(`unknown service "${name}"; services.config.ts declares: ${config.services.map((s) => s.name).join(', ')}`);
  }
  return service;
}

export function requireNode(config: MeshConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) throw new UnknownNameError(`unknown node "${name}"; nodes.config.ts declares: ${config.nodes.map((n) => n.name).join(', ')}`);
  return node;
}
