/**
 * A follower's side of InstallSnapshot: assembles the chunks of one snapshot at a time, in order.
 * A chunk out of place is answered with the offset we expect, so the leader resumes from there; a
 * chunk of a different snapshot starts over only at offset 0. Bounded by `bytesMax`.
 */
import type { SnapshotChunk } from './messages.js';
import type { Snapshot, SnapshotMeta } from './types.js';

export type ChunkOutcome =
  | { readonly kind: 'progress'; readonly offset: number }
  | { readonly kind: 'complete'; readonly snapshot: Snapshot }
  | { readonly kind: 'refused'; readonly reason: string };

export class SnapshotReceiver {
  private meta: SnapshotMeta | null = null;
  private size = 0;
  private chunks: Uint8Array[] = [];
  private received = 0;

  constructor(private readonly bytesMax: number) {}

  accept(chunk: SnapshotChunk): ChunkOutcome {
    if (chunk.size > this.bytesMax) return { kind: 'refused', reason: 'snapshotTooLarge' };
    if (!this.isCurrent(chunk)) {
      if (chunk.offset !== 0) return { kind: 'progress', offset: 0 };
      this.start(chunk);
    }
    if (chunk.offset !== this.received) return { kind: 'progress', offset: this.received };
    this.chunks.push(chunk.data);
    this.received += chunk.data.length;
    if (this.received < this.size) return { kind: 'progress', offset: this.received };
    const snapshot = { meta: chunk.meta, data: concat(this.chunks, this.size) };
    this.reset();
    return { kind: 'complete', snapshot };
  }

  reset(): void {
    this.meta = null;
    this.size = 0;
    this.chunks = [];
    this.received = 0;
  }

  private isCurrent(chunk: SnapshotChunk): boolean {
    return (
      this.meta !== null &&
      this.meta.index === chunk.meta.index &&
      this.meta.term === chunk.meta.term &&
      this.size === chunk.size
    );
  }

  private start(chunk: SnapshotChunk): void {
    this.reset();
    this.meta = chunk.meta;
    this.size = chunk.size;
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
