/** The database lacks tables or columns the configuration needs (exit 2): run `mesh migrate`. */
export class SchemaNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaNotReadyError';
  }
}
