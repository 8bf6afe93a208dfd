/** A service or node named on the command line that the configuration does not declare (exit 2). */
export class UnknownNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownNameError';
  }
}
