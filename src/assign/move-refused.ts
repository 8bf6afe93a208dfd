/** A request that makes no sense for the configuration or the database: no such entity, already there (exit 2, nothing written). */
export class MoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveRefused';
  }
}

/**
 * A move the nodes cannot take (no room, no other node runs the service):
 * the command was understood and ran, and the operation was refused, so
 * exit 1, not the bad-usage 2. Nothing is written.
 */
export class CapacityRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityRefused';
  }
}
