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
} from './micro-protocol.js';
export type { MicroPullEntry } from './micro-store.js';
