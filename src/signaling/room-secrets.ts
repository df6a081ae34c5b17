/**
 * Where the signaling server finds room secrets: a map, a plain record or a lookup function
 * (which may be async, e.g. a key-value store on an edge runtime). Rooms without a secret are open.
 */

/** The secret of a room, or undefined for an open room. May be async (a lookup in a store). */
export type RoomSecretLookup = (room: string) => string | undefined | Promise<string | undefined>;

/** Room secrets: a map, a plain record or a lookup function. Rooms without a secret are open. */
export type RoomSecrets =
  ReadonlyMap<string, string> | Readonly<Record<string, string>> | RoomSecretLookup;

/** One lookup function for every form of `secrets`; checks configured secrets up front. */
export function secretLookup(secrets: RoomSecrets | undefined): RoomSecretLookup {
  if (secrets === undefined) return () => undefined;
  if (typeof secrets === 'function') return secrets;
  const table = secrets instanceof Map ? new Map(secrets) : new Map(Object.entries(secrets));
  for (const [room, secret] of table) {
    if (typeof secret !== 'string' || secret.length === 0) {
      throw new RangeError(`the secret of room ${room} must be a non-empty string`);
    }
  }
  // A Map, not property access: a record's prototype would answer for rooms like "constructor".
  return (room) => table.get(room);
}
