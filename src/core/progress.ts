/**
 * The leader's view of one follower (etcd's tracker/): what it matches, what to send next, and how
 * hard to push. `probe` sends one append at a time until the follower's position is known;
 * `replicate` streams appends within a bounded window of in-flight requests; `snapshot` sends a
 * snapshot one chunk at a time to a follower that needs entries the leader compacted away.
 */
import { assert } from './errors.js';

/** Heartbeat answers without progress after which in-flight appends count as lost. */
const QUIET_HEARTBEATS_LOST = 3;

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be durable on the follower and equal to the leader's. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe, a request is out and we wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Last index of each in-flight append, oldest first. */
  private readonly inflight: number[] = [];
  /**
   * Match when the previous heartbeat answer came, and answers since without progress (counted
   * anew in each state: an old count would cut a fresh pipeline short).
   */
  private matchAtLastHeartbeat = 0;
  private quietHeartbeats = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Leader tick at which this member was last heard from (any answer). */
  lastHeardTick = 0;
  /** Newest leader tick, echoed in a heartbeat answer, at which this follower was in contact. */
  leaseAckTick = Number.NEGATIVE_INFINITY;
  /** Newest read sequence number this follower acknowledged (confirms reads up to it). */
  readSeqAcked = 0;
  /** In snapshot state: which snapshot, how many bytes the follower has, and whether a chunk is out. */
  snapshotIndex = 0;
  /** The highest commit index an append to this member carried. */
  commitSent = 0;
  /** Leader tick of the last heartbeat to this member, and the commit index it carried. */
  heartbeatSentTick = Number.NEGATIVE_INFINITY;
  heartbeatCommit = 0;
  snapshotOffset = 0;
  chunkInFlight = false;
  /** Leader ticks since the chunk in flight was sent; past a limit it counts as lost. */
  chunkElapsed = 0;

  constructor(
    next: number,
    private inflightMax: number,
  ) {
    this.next = next;
  }

  /** A member promoted or demoted gets the window of its new role; a full window just waits. */
  setInflightMax(inflightMax: number): void {
    this.inflightMax = inflightMax;
  }

  isPaused(): boolean {
    if (this.state === 'snapshot') return this.chunkInFlight;
    return this.state === 'probe' ? this.probeSent : this.inflight.length >= this.inflightMax;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.quietHeartbeats = 0;
    this.probeSent = false;
    this.chunkInFlight = false;
    this.inflight.length = 0;
    this.next = Math.max(this.next, this.match + 1);
  }

  /** Starts (or restarts) sending the snapshot at `index` from its first byte. */
  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.quietHeartbeats = 0;
    this.inflight.length = 0;
    this.snapshotIndex = index;
    this.snapshotOffset = 0;
    this.chunkInFlight = false;
    this.chunkElapsed = 0;
  }

  /** A leader tick: returns true when the chunk in flight has waited too long and is due again. */
  chunkTimedOut(timeoutTicks: number): boolean {
    if (this.state !== 'snapshot' || !this.chunkInFlight) return false;
    this.chunkElapsed += 1;
    if (this.chunkElapsed < timeoutTicks) return false;
    this.chunkInFlight = false;
    return true;
  }

  /** The follower installed the snapshot at `index`: it matches the log up to there. */
  snapshotInstalled(index: number): void {
    this.match = Math.max(this.match, index);
    this.next = this.match + 1;
    this.becomeProbe();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.quietHeartbeats = 0;
    this.probeSent = false;
    this.inflight.length = 0;
    this.next = this.match + 1;
  }

  /** Records an append sent with last index `last` (replicate) or a probe (probe). */
  sent(last: number, entryCount: number): void {
    if (this.state === 'probe') {
      this.probeSent = true;
      return;
    }
    if (entryCount === 0) return;
    assert(last + 1 > this.next - 1, 'replicate must advance next');
    this.next = last + 1;
    assert(this.inflight.length < this.inflightMax, 'inflight window overflow');
    this.inflight.push(last);
  }

  /** A successful answer covering up to `index`. Returns whether match moved. */
  acknowledge(index: number): boolean {
    this.probeSent = false;
    let shift = 0;
    while (shift < this.inflight.length && (this.inflight[shift] ?? 0) <= index) shift++;
    this.inflight.splice(0, shift);
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    return true;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`, with the follower's hint. Returns
   * false for a stale rejection (one that no longer says anything about the follower).
   */
  rejected(rejected: number, matchHint: number): boolean {
    if (this.state === 'snapshot') return false;
    if (rejected <= this.match) {
      if (matchHint >= this.match) return false;
      // The follower's log ends below what it acknowledged: storage cut its tail on a restart
      // (or this is an old rejection its later acks overtook). Believing it costs one probe at
      // worst and never moves commit back; not believing it would send after entries it lacks
      // forever.
      this.match = matchHint;
      this.next = matchHint + 1;
      this.becomeProbe();
      return true;
    }
    if (this.state === 'probe' && rejected !== this.next - 1) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.becomeProbe();
    return true;
  }

  /**
   * Appends are in flight and a heartbeat answer came. They may just be slow or reordered, and
   * probing now would knock a healthy pipeline back to probe; only when several answers came
   * without any progress do they look lost (then an empty append finds out where the follower is).
   */
  inflightLooksLost(): boolean {
    // Sent beyond what the follower confirmed (the window may have been freed by heartbeats).
    const outstanding = this.next > this.match + 1;
    if (this.match > this.matchAtLastHeartbeat || !outstanding) {
      this.matchAtLastHeartbeat = this.match;
      this.quietHeartbeats = 0;
      return false;
    }
    this.quietHeartbeats += 1;
    return this.quietHeartbeats >= QUIET_HEARTBEATS_LOST;
  }

  heartbeatAnswered(): void {
    this.probeSent = false;
    if (this.state === 'replicate' && this.inflight.length >= this.inflightMax)
      this.inflight.shift();
  }
}
