export {
  createMicroNode,
  type MicroNode,
  type MicroNodeAddress,
  type MicroNodeOptions,
  type MicroNodeTlsOptions,
} from './create-micro-node.js';
export type {
  MicroBatchEntry,
  MicroBatchProtocol,
  MicroProtocol,
  MicroProtocolPaths,
  MicroRecord,
  MicroRecordId,
  MicroResult,
  MicroSingleProtocol,
  MicroValidation,
} from './micro-protocol.js';
export type { MicroRejection } from './micro-routes.js';
export type { MicroPullEntry } from './micro-store.js';
