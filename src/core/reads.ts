/**
 * The leader's queue of ReadIndex requests (Raft thesis §6.4). A read gets the commit index at the
 * time it arrived and a sequence number; it is released once a quorum has answered a heartbeat
 * sent after it, which proves no newer leader had been elected when the read arrived.
 */
import { assert } from './errors.js';
import type { MemberId } from './types.js';

export interface QueuedRead {
  readonly context: string;
  /** Who asked: the leader itself, or a follower that forwarded the read. */
  readonly from: MemberId;
}

export interface ConfirmingRead extends QueuedRead {
  readonly seq: number;
  readonly index: number;
}

export class ReadQueue {
  /** Reads that arrived before this leader committed an entry of its term. */
  private readonly waiting: QueuedRead[] = [];
  private readonly confirming: ConfirmingRead[] = [];
  private seqLast = 0;

  constructor(private readonly sizeMax: number) {}

  get size(): number {
    return this.waiting.length + this.confirming.length;
  }

  isFull(): boolean {
    return this.size >= this.sizeMax;
  }

  get lastSeq(): number {
    return this.seqLast;
  }

  wait(read: QueuedRead): void {
    assert(!this.isFull(), 'read queue overflow');
    this.waiting.push(read);
  }

  takeWaiting(): QueuedRead[] {
    return this.waiting.splice(0, this.waiting.length);
  }

  /** Queues a read to be confirmed at commit `index`; returns its sequence number. */
  confirm(read: QueuedRead, index: number): number {
    assert(!this.isFull(), 'read queue overflow');
    const last = this.confirming[this.confirming.length - 1];
    assert(last === undefined || last.index <= index, 'read indexes must not decrease');
    this.seqLast += 1;
    this.confirming.push({ ...read, seq: this.seqLast, index });
    return this.seqLast;
  }

  /** Releases, in order, every read whose sequence number a quorum has acknowledged. */
  release(quorumSeq: number): ConfirmingRead[] {
    let count = 0;
    while (count < this.confirming.length && (this.confirming[count]?.seq ?? Infinity) <= quorumSeq)
      count++;
    return this.confirming.splice(0, count);
  }

  /** Empties the queue (leadership lost); the caller fails every read returned. */
  drain(): QueuedRead[] {
    return [
      ...this.waiting.splice(0, this.waiting.length),
      ...this.confirming.splice(0, this.confirming.length),
    ];
  }
}
