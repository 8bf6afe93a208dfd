/**
 * A request body already serialized as JSON: sent as it is. A push holds
 * each record as its JSON text from the moment it is read, so that
 * thousands of nodes' partial batches hold one string a record instead
 * of the driver's row and its values.
 */
export class JsonText {
  constructor(readonly text: string) {}
}
