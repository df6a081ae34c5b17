/**
 * A set of strings kept in ascending order, in chunks: inserting or removing a key moves at most
 * one chunk's worth of the array, not every key after it. One sorted array cost a memmove of the
 * whole key set per new key, which at tens of thousands of keys was a tenth of a busy member's
 * time. Ordered by `<` on strings (UTF-16 code units), as the KV's ranges are.
 */
const CHUNK_MAX = 512;

export class SortedKeys {
  /** Non-empty chunks, each sorted, every key of one below every key of the next. */
  private chunks: string[][] = [];
  private count = 0;

  /** Keys already in strictly ascending order (a snapshot's). */
  static fromSorted(keys: Iterable<string>): SortedKeys {
    const sorted = new SortedKeys();
    let chunk: string[] = [];
    for (const key of keys) {
      if (chunk.length === CHUNK_MAX / 2) {
        sorted.chunks.push(chunk);
        chunk = [];
      }
      chunk.push(key);
      sorted.count++;
    }
    if (chunk.length > 0) sorted.chunks.push(chunk);
    return sorted;
  }

  get size(): number {
    return this.count;
  }

  /** The greatest key, or undefined when empty. */
  last(): string | undefined {
    const chunk = this.chunks[this.chunks.length - 1];
    return chunk?.[chunk.length - 1];
  }

  /** Adds `key`, which must not be in the set. */
  insert(key: string): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      return;
    }
    const at = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[at]!;
    chunk.splice(lowerBound(chunk, key), 0, key);
    if (chunk.length > CHUNK_MAX) this.chunks.splice(at + 1, 0, chunk.splice(CHUNK_MAX / 2));
  }

  /** Removes `key`; false if it was not in the set. */
  remove(key: string): boolean {
    const at = this.chunkFor(key);
    const chunk = this.chunks[at];
    if (chunk === undefined) return false;
    const position = lowerBound(chunk, key);
    if (chunk[position] !== key) return false;
    chunk.splice(position, 1);
    if (chunk.length === 0) this.chunks.splice(at, 1);
    this.count--;
    return true;
  }

  /** Keys from `key` on (above it, if `exclusive`), in order. */
  *from(key: string, exclusive = false): IterableIterator<string> {
    for (let at = this.chunkFor(key); at < this.chunks.length; at++) {
      const chunk = this.chunks[at]!;
      let position = 0;
      if (key <= chunk[chunk.length - 1]!) {
        position = lowerBound(chunk, key);
        if (exclusive && chunk[position] === key) position++;
      }
      for (; position < chunk.length; position++) yield chunk[position]!;
    }
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** The first chunk whose greatest key is >= `key` (the chunk count if none is). */
  private chunkFor(key: string): number {
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle]!;
      if (chunk[chunk.length - 1]! < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** The first position whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
