import type { NodeConfig } from './node-config.js';
import type { ServiceConfig } from './service-config.js';

/** Types `nodes.config.ts`; returns its argument unchanged. */
export function defineNodes(nodes: NodeConfig[]): NodeConfig[] {
  return nodes;
}

/** Types `services.config.ts`; returns its argument unchanged. */
export function defineServices(services: ServiceConfig[]): ServiceConfig[] {
  return services;
}
