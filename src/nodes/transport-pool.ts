import type { NodeConfig } from '../config/node-config.js';
import { createHttpTransport } from './http-transport.js';
import type { NodeTransport } from './node-transport.js';

export type TransportFactory = (node: NodeConfig) => NodeTransport;

/** One transport (its keep-alive connections, node-connections.ts) per node for the length of a run. */
export class TransportPool {
  readonly #create: TransportFactory;
  readonly #transports = new Map<string, NodeTransport>();

  constructor(props: { create?: TransportFactory } = {}) {
    this.#create = props.create ?? ((node) => createHttpTransport(node));
  }

  get(node: NodeConfig): NodeTransport {
    let transport = this.#transports.get(node.name);
    if (!transport) {
      transport = this.#create(node);
      this.#transports.set(node.name, transport);
    }
    return transport;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#transports.values()];
    this.#transports.clear();
    await Promise.all(all.map((t) => t.close()));
  }
}
