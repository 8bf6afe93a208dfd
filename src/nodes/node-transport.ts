/**
 * The outcome of one call to a node. A call succeeded only when the node
 * answered 2xx with a JSON body whose `status` is `"success"`; anything else
 * carries the error text the node contract defines
 * (`HTTP <code>: <first 500 characters of the body>` or the network error).
 */
export type NodeCallResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; error: string };

/** The few calls the engine makes to a node; undici sits behind it. */
export interface NodeTransport {
  get(path: string): Promise<NodeCallResult>;
  post(path: string, body: unknown): Promise<NodeCallResult>;
  close(): Promise<void>;
}
