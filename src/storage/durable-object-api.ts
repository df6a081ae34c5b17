/**
 * The part of the Durable Object storage API (workerd, Cloudflare) that DurableObjectStorage
 * uses, and its documented limits: small enough to fake faithfully in Node
 * (durable-object-memory.ts) and to check against the real thing in workerd.
 *
 * Limits, from Cloudflare's Transactional Storage API and limits pages: a key is at most 2,048
 * bytes; a value at most 128 KiB on KV-backed objects (V8 serialization may add 32 bytes) and key
 * plus value at most 2 MB on SQLite-backed ones; a get, put or delete of several keys takes at
 * most 128 of them. We keep to the smaller, KV-backed bound, so one storage runs on both.
 */

/** Bytes a stored key may take. */
export const DO_KEY_BYTES_MAX = 2048;
/** Bytes a stored value may take (as V8 serializes it) on a KV-backed object. */
export const DO_VALUE_BYTES_MAX = 128 * 1024;
/** Keys one get, put or delete call may name. */
export const DO_KEYS_PER_CALL_MAX = 128;

/** Options of `list`: keys in ascending UTF-8 order, from `start` (inclusive) to `end` (exclusive). */
export interface DurableObjectListOptionsLike {
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  readonly limit?: number;
}

/** The operations of a transaction (`txn` in `storage.transaction(async (txn) => ...)`). */
export interface DurableObjectTransactionLike {
  get(key: string): Promise<unknown>;
  list(options: DurableObjectListOptionsLike): Promise<Map<string, unknown>>;
  /** At most DO_KEYS_PER_CALL_MAX entries. */
  put(entries: Record<string, unknown>): Promise<void>;
  /** At most DO_KEYS_PER_CALL_MAX keys; resolves with how many existed. */
  delete(keys: string[]): Promise<number>;
  /** Discards every write of the transaction; later calls on `txn` throw. */
  rollback(): void;
}

/** `state.storage` of a Durable Object, as far as DurableObjectStorage uses it. */
export interface DurableObjectStorageLike {
  /**
   * Runs `closure` as one transaction: its writes commit together when it resolves, or none do
   * when it throws or rolls back.
   */
  transaction<T>(closure: (txn: DurableObjectTransactionLike) => Promise<T>): Promise<T>;
  /** Resolves once every write issued so far is on disk. */
  sync(): Promise<void>;
}
