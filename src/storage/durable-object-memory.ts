/**
 * A Durable Object's storage in memory, for running DurableObjectStorage (and an edge member) in
 * Node: the same transactional semantics as workerd's — a transaction's writes commit together
 * or not at all, transactions run one at a time, a read inside one sees its own writes — and the
 * same limits (key and value sizes, keys per call), refused with errors like workerd's. Values
 * are structured-cloned on the way in and out, as the real storage serializes them.
 *
 * What is committed is the durable state: `reopen`ing a storage over it after a "crash" sees
 * exactly the committed transactions. `failCommits` makes commits fail (a full or broken disk).
 */
import {
  DO_KEY_BYTES_MAX,
  DO_KEYS_PER_CALL_MAX,
  DO_VALUE_BYTES_MAX,
} from './durable-object-api.js';
import type {
  DurableObjectListOptionsLike,
  DurableObjectStorageLike,
  DurableObjectTransactionLike,
} from './durable-object-api.js';

const utf8 = new TextEncoder();
/** V8's serialization may add this much to a value and workerd still takes it. */
const SERIALIZATION_SLACK_BYTES = 32;
const DELETED = Symbol('deleted');

export class MemoryDurableObjectStorage implements DurableObjectStorageLike {
  private readonly committed = new Map<string, unknown>();
  private running: Promise<void> = Promise.resolve();
  /** When set, every commit fails with this error and writes nothing. */
  failCommits: Error | null = null;
  /** Transactions committed so far (with at least one write). */
  commits = 0;

  transaction<T>(closure: (txn: DurableObjectTransactionLike) => Promise<T>): Promise<T> {
    const run = this.running.then(() => this.runTransaction(closure));
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async sync(): Promise<void> {
    await this.running;
  }

  /** One value as committed (a copy), outside any transaction: for tests. */
  peek(key: string): unknown {
    return structuredClone(this.committed.get(key));
  }

  /** Replaces (or with `undefined` deletes) a committed value, bypassing every check: damage. */
  damage(key: string, value: unknown): void {
    if (value === undefined) this.committed.delete(key);
    else this.committed.set(key, structuredClone(value));
  }

  /** The committed keys, in the storage's order. */
  keys(): string[] {
    return [...this.committed.keys()].sort(compareUtf8);
  }

  private async runTransaction<T>(
    closure: (txn: DurableObjectTransactionLike) => Promise<T>,
  ): Promise<T> {
    const writes = new Map<string, unknown>();
    let open = true;
    const usable = (): void => {
      if (!open) throw new Error('Transaction was rolled back or has already completed.');
    };
    const read = (key: string): unknown => {
      const written = writes.get(key);
      if (written === DELETED) return undefined;
      return structuredClone(writes.has(key) ? written : this.committed.get(key));
    };
    const txn: DurableObjectTransactionLike = {
      get: async (key) => {
        usable();
        checkKey(key);
        return read(key);
      },
      list: async (options) => {
        usable();
        return this.list(options, writes, read);
      },
      put: async (entries) => {
        usable();
        const keys = Object.keys(entries);
        checkCount(keys.length);
        for (const key of keys) {
          checkKey(key);
          checkValue(entries[key]);
        }
        for (const key of keys) writes.set(key, structuredClone(entries[key]));
      },
      delete: async (keys) => {
        usable();
        checkCount(keys.length);
        let existed = 0;
        for (const key of keys) {
          checkKey(key);
          if (read(key) !== undefined) existed++;
          writes.set(key, DELETED);
        }
        return existed;
      },
      rollback: () => {
        usable();
        open = false;
        writes.clear();
      },
    };
    let result: T;
    try {
      result = await closure(txn);
    } finally {
      open = false;
    }
    if (writes.size === 0) return result;
    if (this.failCommits !== null) throw this.failCommits;
    for (const [key, value] of writes) {
      if (value === DELETED) this.committed.delete(key);
      else this.committed.set(key, value);
    }
    this.commits++;
    return result;
  }

  private list(
    options: DurableObjectListOptionsLike,
    writes: ReadonlyMap<string, unknown>,
    read: (key: string) => unknown,
  ): Map<string, unknown> {
    const keys = new Set([...this.committed.keys(), ...writes.keys()]);
    const { prefix = '', start, end, limit = Infinity } = options;
    const listed = new Map<string, unknown>();
    for (const key of [...keys].sort(compareUtf8)) {
      if (listed.size >= limit) break;
      if (!key.startsWith(prefix)) continue;
      if (start !== undefined && compareUtf8(key, start) < 0) continue;
      if (end !== undefined && compareUtf8(key, end) >= 0) continue;
      const value = read(key);
      if (value !== undefined) listed.set(key, value);
    }
    return listed;
  }
}

function checkCount(count: number): void {
  if (count > DO_KEYS_PER_CALL_MAX) {
    throw new RangeError(`Maximum number of keys is ${DO_KEYS_PER_CALL_MAX}; got ${count}.`);
  }
}

function checkKey(key: string): void {
  const bytes = utf8.encode(key).length;
  if (bytes > DO_KEY_BYTES_MAX) {
    throw new RangeError(`Keys cannot be larger than ${DO_KEY_BYTES_MAX} bytes; got ${bytes}.`);
  }
}

function checkValue(value: unknown): void {
  if (value === undefined) throw new TypeError('Values cannot be undefined.');
  const bytes = serializedBytes(value);
  if (bytes > DO_VALUE_BYTES_MAX + SERIALIZATION_SLACK_BYTES) {
    throw new RangeError(
      `Values cannot be larger than ${DO_VALUE_BYTES_MAX} bytes. A value of size ${bytes} was provided.`,
    );
  }
}

/** About what V8's serializer makes of `value` (an upper bound for the shapes we store). */
function serializedBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength + 16;
  if (typeof value === 'string') return utf8.encode(value).length + 5;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return 9;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + serializedBytes(v), 5);
  if (typeof value === 'object') {
    let bytes = 5;
    for (const [key, field] of Object.entries(value))
      bytes += key.length + 5 + serializedBytes(field);
    return bytes;
  }
  return 16;
}

/** The order of keys in Durable Object storage: by their UTF-8 bytes. */
export function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const length = Math.min(x.length, y.length);
  for (let i = 0; i < length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
