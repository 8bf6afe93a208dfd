export { defineNodes, defineServices } from './config/define-config.js';
export type { NodeConfig, NodeServiceCapacity, NodeSshConfig, NodeTlsConfig } from './config/node-config.js';
export type {
  AnyDatabase,
  AssignCriterion,
  Db,
  EntityConfig,
  FlagColumns,
  ProtocolConfig,
  PullConfig,
  PullContext,
  PullResult,
  PullStoreFunction,
  PushConfig,
  PushContext,
  PushFunction,
  Row,
  ServiceConfig,
} from './config/service-config.js';
export type { MeshConfig, ResolvedProtocol, ResolvedService } from './config/mesh-config.js';
export { ConfigError, type ConfigProblem } from './config/config-problem.js';
export { loadConfig } from './config/load-config.js';
export { validateConfig } from './config/validate-config.js';
