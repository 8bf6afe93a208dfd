import type { Db } from '../config/service-config.js';

/** Small values the package keeps between runs, in `workmesh_state`. */
export async function readState(db: Db, key: string): Promise<string | null> {
  const row = await db.selectFrom('workmesh_state').select('value').where('key', '=', key).executeTakeFirst();
  return row === undefined ? null : String(row.value);
}

/** Writes a value; call it inside the transaction whose outcome it records. */
export async function writeState(db: Db, key: string, value: string): Promise<void> {
  await db.deleteFrom('workmesh_state').where('key', '=', key).execute();
  await db.insertInto('workmesh_state').values({ key, value }).execute();
}

export const roundRobinKey = (service: string) => `roundrobin:${service}`;
