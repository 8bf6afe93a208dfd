import { Client } from 'undici';

/** One keep-alive connection and the calls this transport has on it. */
interface Connection {
  client: Client;
  calls: number;
}

/**
 * A node's keep-alive connections, up to `max`: a call goes to a connection
 * with none of this transport's calls on it, else to a new one, else (all
 * `max` busy) to the one with the fewest, where undici queues it.
 *
 * Why not undici's Pool: when a call follows the one before it at once (a
 * pull's status and then its first batch, a node's batches one after the
 * other), the Pool still counted the first as running and opened a second
 * connection for it. With 1,000 nodes a pull opened 2,000 connections, and
 * a new connection is most of what a node costs a run (a micro-benchmark
 * from a cold process, two calls to each of 1,000 nodes: 0.88-0.98 s of
 * CPU through Pools, 0.57-0.64 s through one Client each).
 */
export class NodeConnections {
  readonly #origin: string;
  readonly #max: number;
  readonly #options: Client.Options;
  readonly #connections: Connection[] = [];
  #destroyed = false;

  constructor(props: { origin: string; max: number; options: Client.Options }) {
    this.#origin = props.origin;
    this.#max = Math.max(1, props.max);
    this.#options = props.options;
  }

  /** Runs `call` on a connection; it is counted on that connection until it settles. */
  async run<T>(call: (client: Client) => Promise<T>): Promise<T> {
    if (this.#destroyed) throw new Error('the connections to this node were closed');
    const connection = this.#pick();
    connection.calls += 1;
    try {
      return await call(connection.client);
    } finally {
      connection.calls -= 1;
    }
  }

  /** Ends every connection at once, with whatever is still on it; for when every call has settled. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await Promise.all(this.#connections.splice(0).map(({ client }) => client.destroy()));
  }

  #pick(): Connection {
    let fewest: Connection | undefined;
    for (const connection of this.#connections) {
      if (connection.calls === 0) return connection;
      if (fewest === undefined || connection.calls < fewest.calls) fewest = connection;
    }
    if (fewest === undefined || this.#connections.length < this.#max) {
      const connection = { client: new Client(this.#origin, this.#options), calls: 0 };
      this.#connections.push(connection);
      return connection;
    }
    return fewest;
  }
}
