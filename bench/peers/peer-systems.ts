import { bullmqSystem } from './bullmq-system.js';
import { graphileSystem } from './graphile-system.js';
import type { PeerSystem } from './peer-system.js';
import { workmeshSystem } from './workmesh-system.js';

/** Every system the peers bench knows, by id. */
export function peerSystem(id: string): PeerSystem {
  if (id === 'workmesh') return workmeshSystem;
  if (id === 'graphile-queue') return graphileSystem(true);
  if (id === 'graphile') return graphileSystem(false);
  if (id === 'graphile-queue-local') return graphileSystem(true, true);
  if (id === 'bullmq') return bullmqSystem;
  throw new Error(`unknown system ${id}`);
}
