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
 *
 * `error` is what goes into the records' error flags, exactly as the contract
 * words it. `where` is the request that failed, as `<METHOD> <path>` (the
 * node URL's own path included; never the host, a query or credentials), for
 * the texts a person reads: a stream's printed or logged error names the node
 * and the request, `node1 POST /api/1.0/deliveries/push.json: HTTP 404: …`
 * (see {@link nodeFailureText}). The HTTP transport always sets it; a
 * transport that has no request to name may leave it out.
 *
 * Error texts of the HTTP transport never hold the node's API key (in any
 * form: bare, `Bearer <key>`, JSON- or URL-escaped) nor the password of its
 * URL: they are removed from the whole answer before the 500-character cut.
 * Control characters (NUL included) are replaced by spaces. An answer is read
 * up to a cap (the node's `maxAnswerBytes`; else 4 MB for status and push
 * answers and 64 MB for pull answers, a pull being a POST whose body carries
 * `ids`); a larger one is the node's failure and is not read further.
 */
export type NodeCallResult =
  { ok: true; body: Record<string, unknown> } | { ok: false; error: string; failure: FailureClass; where?: string };

/** A failed call as a person reads it: `node1 POST /api/1.0/deliveries/push.json: HTTP 404: …`. */
export function nodeFailureText(node: string, result: { error: string; where?: string }): string {
  return `${node}${result.where === undefined ? '' : ` ${result.where}`}: ${result.error}`;
}

/** The few calls the engine makes to a node; undici sits behind it. */
export interface NodeTransport {
  get(path: string): Promise<NodeCallResult>;
  post(path: string, body: unknown): Promise<NodeCallResult>;
  /** Once every call has settled: drops the connections (a call still in flight fails). */
  close(): Promise<void>;
}
