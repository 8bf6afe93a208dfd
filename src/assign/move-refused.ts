/** A request the configuration or the database cannot satisfy (exit 2, nothing written). */
export class MoveRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveRefused';
  }
}
