/**
 * Whose failure a failed call is (node contract v1.1):
 * - `node`: the node is unavailable or misconfigured (connection refused or
 *   reset, DNS, TLS, time-out, HTTP 401/403/404/408/429/5xx, a body that is
 *   not JSON, an answer over the size cap). The records stay pending, in
 *   order, with no attempt counted; the master backs off from the node.
 * - `records`: a reachable node refused the batch (HTTP 400/409/413/422 with
 *   a JSON body). Only the records at fault count an attempt.
 */
export type FailureClass = 'node' | 'records';

/**
 * The outcome of one call to a node. A call succeeded only when the node
 * answered 2xx with a JSON body whose `status` is `"success"`; anything else
 * carries the error text the node contract defines
 * (`HTTP <code>: <first 500 characters of the body>` or the network error)
 * and the class of the failure.
 */
export type NodeCallResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; error: string; failure: FailureClass };

/** The few calls the engine makes to a node; undici sits behind it. */
export interface NodeTransport {
  get(path: string): Promise<NodeCallResult>;
  post(path: string, body: unknown): Promise<NodeCallResult>;
  close(): Promise<void>;
}
