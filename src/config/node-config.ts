/** Capacity of one node for one service; a limit left out is unlimited. */
export interface NodeServiceCapacity {
  maxEntities?: number;
  maxWeight?: number;
}

interface NodeSshBase {
  host: string;
  port?: number;
  username: string;
  /** Pinned host key, `SHA256:<base64>` as `ssh-keygen -lf` prints it; known_hosts is not consulted then. */
  hostKey?: string;
  /**
   * The OpenSSH known_hosts file a host key is checked against when `hostKey`
   * is left out (trust on first use: an unknown host's key is added, a
   * changed one refused); `~/.ssh/known_hosts` when left out. Relative paths
   * are taken from the config file's folder.
   */
  knownHosts?: string;
  /** Milliseconds to wait for the SSH handshake; 10 s when left out. */
  connectTimeoutMs?: number;
}

/** SSH access: a private key file or a password, never both. */
export type NodeSshConfig =
  (NodeSshBase & { privateKeyPath: string; password?: never }) | (NodeSshBase & { password: string | undefined; privateKeyPath?: never });

export interface NodeTlsConfig {
  /** Path to a PEM file with the private CA that signed the node's certificate. */
  ca?: string;
}

export interface NodeConfig {
  /** Unique; letters, digits, `.`, `_` and `-`. */
  name: string;
  /** Base URL of the micro-service, http or https. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; never printed. */
  apiKey: string | undefined;
  /** The services this node runs, each with optional capacity. */
  services: Record<string, NodeServiceCapacity>;
  /** Per request, in milliseconds; 30 s when left out. */
  timeoutMs?: number;
  /**
   * The most bytes read from one answer of this node; a larger answer is the
   * node's failure. When left out: 4 MB for status and push answers, 64 MB for pull answers.
   */
  maxAnswerBytes?: number;
  tls?: NodeTlsConfig;
  ssh?: NodeSshConfig;
  /** Commands `mesh deploy` runs over SSH, in order; `{node}` and `{service}` are filled in. */
  deploy?: string[];
}
