/**
 * Simulated durable storage (TESTING.md 11, 14–17). A `SimDisk` is one member's disk: it outlives
 * crashes. Each incarnation of the member opens a `SimStorage` on it. A write — a persist (hard
 * state, entries, maybe a snapshot from the leader) or a compaction (a snapshot the member took,
 * and the log dropped below a point) — becomes durable only when its completion event runs after a
 * random latency; until then it is in flight. At a crash, in-flight writes are lost, or survive, or
 * the oldest lost one is torn. A torn persist keeps a prefix of its entries and its hard state or
 * not; a snapshot install is one IndexedDB transaction, so a torn install keeps the snapshot with
 * all its entries or neither (its hard state may still be torn off). A compaction is never torn:
 * the disk keeps the old state or the new. A write whose promise resolved is never lost, and a
 * crashed incarnation's pending promises never settle. An edge member's disk is a transactional
 * store (Durable Object storage): its options have `tornProbability` 0, so a crash keeps each
 * in-flight write whole or loses it whole (oldest first), and its writes take longer.
 */
import type { Random } from '../../src/core/random.js';
import type { HardState, MemberId, Snapshot } from '../../src/core/types.js';
import { MemoryDisk } from '../../src/storage/memory.js';
import type { PersistedState, PersistUpdate, Storage } from '../../src/storage/storage.js';
import type { IdbMirror } from './idb-mirror.js';
import { samePersistedState } from './idb-mirror.js';
import type { StorageOptions } from './options.js';
import type { SimEvent, VirtualTime } from './virtual-time.js';

/** Most writes in flight on one disk (the driver awaits each, so more means a bug). */
const INFLIGHT_WRITES_MAX = 64;

/** Where a planned crash strikes relative to the next write (TESTING.md 11). */
export type CrashPoint = 'beforeWrite' | 'afterWrite';

/** Which write an armed crash waits for: any, or one that installs or takes a snapshot. */
export type CrashTarget = 'any' | 'snapshot';

/** One write to the disk. */
export type DiskWrite =
  | { readonly kind: 'persist'; readonly update: PersistUpdate }
  | { readonly kind: 'compact'; readonly snapshot: Snapshot; readonly compactThrough: number };

/** Reports what the disk saw, for the invariant checker. */
export interface DiskObserver {
  /** A persist reached the disk; `before` is the hard state it replaced. */
  onDurable?(member: MemberId, before: HardState, update: PersistUpdate): void;
  /** A compaction reached the disk. */
  onCompacted?(member: MemberId, snapshot: Snapshot, compactThrough: number): void;
  /** The disk refused a write (a hole, a term going backwards): a bug in the core or driver. */
  onRefused?(member: MemberId, error: Error): void;
  /** What a crash did to the writes in flight, for traces. */
  onCrash?(member: MemberId, summary: string): void;
}

interface InflightWrite {
  readonly write: DiskWrite;
  readonly event: SimEvent;
}

/** Counters for reports. */
export interface DiskStats {
  writes: number;
  lostWrites: number;
  tornWrites: number;
  survivedWrites: number;
  /** Snapshots from a leader made durable (InstallSnapshot completions). */
  snapshotsInstalled: number;
  /** Compactions made durable. */
  compactions: number;
}

/** One member's disk: durable state plus the queue of writes in flight. */
export class SimDisk {
  readonly durable = new MemoryDisk();
  private inflight: InflightWrite[] = [];
  private lastCompletionMs = 0;
  private armed: { point: CrashPoint; target: CrashTarget; crash: () => void } | null = null;
  readonly stats: DiskStats = {
    writes: 0,
    lostWrites: 0,
    tornWrites: 0,
    survivedWrites: 0,
    snapshotsInstalled: 0,
    compactions: 0,
  };

  constructor(
    readonly member: MemberId,
    private readonly time: VirtualTime,
    private readonly random: Random,
    private readonly options: StorageOptions,
    private readonly observer: DiskObserver = {},
    /** The same disk in IndexedDB, for seeds run with the IndexedDB storage. */
    readonly mirror: IdbMirror | null = null,
  ) {}

  /** Opens the disk for a new incarnation. */
  open(): SimStorage {
    return new SimStorage(this);
  }

  /**
   * The next write (of `target` kind) triggers `crash` right before it is durable, or right after
   * (unacknowledged).
   */
  armCrash(point: CrashPoint, crash: () => void, target: CrashTarget = 'any'): void {
    this.armed = { point, target, crash };
  }

  disarm(): void {
    this.armed = null;
  }

  get inflightCount(): number {
    return this.inflight.length;
  }

  /** @internal Queues one write; `done` runs once it is durable (unless a crash comes first). */
  enqueue(write: DiskWrite, done: (error: Error | null) => void): void {
    if (this.inflight.length >= INFLIGHT_WRITES_MAX)
      throw new Error(`${this.member}: too many writes in flight`);
    this.stats.writes++;
    const completeAt = Math.max(this.lastCompletionMs, this.time.now + this.drawLatency());
    this.lastCompletionMs = completeAt;
    const event = this.time.schedule(completeAt - this.time.now, this.member, 'storage', () => {
      this.inflight.shift();
      const error = this.writeDurably(write);
      const armed = this.takeArmed('afterWrite', write);
      if (armed !== null) {
        // Durable but never acknowledged: the member dies before it can act on the write.
        this.time.schedule(0, null, 'control', armed);
        return;
      }
      done(error);
    });
    this.inflight.push({ write, event });
    const armed = this.takeArmed('beforeWrite', write);
    if (armed !== null) this.time.schedule(0, null, 'control', armed);
  }

  /**
   * The process dies: in-flight writes are resolved oldest first — each survives with the
   * configured chance; the first that does not is torn with the configured chance, or lost; all
   * later ones are lost. Their promises never settle.
   */
  crash(): void {
    const pending = this.inflight;
    this.inflight = [];
    this.armed = null;
    let lost = false;
    const outcomes: string[] = [];
    for (const { write, event } of pending) {
      this.time.cancel(event);
      if (lost) {
        this.stats.lostWrites++;
        outcomes.push(`lost ${describeWrite(write)}`);
      } else if (this.random.float() < this.options.inflightSurvivalProbability) {
        this.stats.survivedWrites++;
        this.writeDurably(write);
        outcomes.push(`kept ${describeWrite(write)}`);
      } else {
        lost = true;
        if (write.kind === 'persist' && this.random.float() < this.options.tornProbability)
          outcomes.push(this.writeTorn(write.update));
        else {
          this.stats.lostWrites++;
          outcomes.push(`lost ${describeWrite(write)}`);
        }
      }
    }
    this.lastCompletionMs = this.time.now;
    this.observer.onCrash?.(this.member, outcomes.join('; ') || 'nothing in flight');
  }

  /**
   * Keeps part of a persist: a prefix of its entries (all or none with a snapshot install, which
   * is atomic), and its hard state or not; returns what it did.
   */
  private writeTorn(update: PersistUpdate): string {
    this.stats.tornWrites++;
    let kept: number;
    let snapshot: PersistUpdate['snapshot'] = null;
    if (update.snapshot !== null) {
      const install = this.random.int(2) === 0;
      snapshot = install ? update.snapshot : null;
      kept = install ? update.entries.length : 0;
    } else {
      kept = this.random.int(update.entries.length + 1);
    }
    const allEntries = kept === update.entries.length && snapshot === update.snapshot;
    const keepHardState =
      update.hardState !== null &&
      (allEntries || this.options.tornHardStateAlone) &&
      this.random.int(2) === 0;
    const torn: PersistUpdate = {
      hardState: keepHardState ? update.hardState : null,
      snapshot,
      entries: update.entries.slice(0, kept),
    };
    if (torn.hardState !== null || torn.snapshot !== null || torn.entries.length > 0)
      this.writeDurably({ kind: 'persist', update: torn });
    return `tore ${describeUpdate(update)} to ${describeUpdate(torn)}`;
  }

  private writeDurably(write: DiskWrite): Error | null {
    const before = this.durable.hardState;
    try {
      if (write.kind === 'persist') this.durable.write(write.update);
      else this.durable.compact(write.snapshot, write.compactThrough);
    } catch (error) {
      this.observer.onRefused?.(this.member, error as Error);
      return error as Error;
    }
    this.mirror?.apply(write);
    if (write.kind === 'persist') {
      if (write.update.snapshot !== null) this.stats.snapshotsInstalled++;
      this.observer.onDurable?.(this.member, before, write.update);
    } else {
      this.stats.compactions++;
      this.observer.onCompacted?.(this.member, write.snapshot, write.compactThrough);
    }
    return null;
  }

  private takeArmed(point: CrashPoint, write: DiskWrite): (() => void) | null {
    const armed = this.armed;
    if (armed === null || armed.point !== point) return null;
    if (armed.target === 'snapshot' && !isSnapshotWrite(write)) return null;
    this.armed = null;
    return armed.crash;
  }

  private drawLatency(): number {
    const { writeLatencyMinMs, writeLatencyMeanMs } = this.options;
    const tail = -Math.log(1 - this.random.float()) * (writeLatencyMeanMs - writeLatencyMinMs);
    return writeLatencyMinMs + Math.min(tail, 10 * writeLatencyMeanMs);
  }
}

/** One incarnation's handle on a SimDisk. After a crash, nothing it started ever settles. */
export class SimStorage implements Storage {
  private dead = false;
  private closed = false;

  constructor(private readonly disk: SimDisk) {}

  async load(): Promise<PersistedState> {
    if (this.closed) throw new Error('storage is closed');
    const expected = this.disk.durable.read();
    if (this.disk.mirror === null) return expected;
    const loaded = await this.disk.mirror.reopenAndLoad();
    if (loaded !== null && !samePersistedState(loaded, expected)) {
      this.disk.mirror.failure ??= `IndexedDB recovered a different state than the disk holds`;
    }
    // The same state either way (a difference is a violation): runs replay as with memory.
    return expected;
  }

  persist(update: PersistUpdate): Promise<void> {
    return this.write({ kind: 'persist', update });
  }

  compact(snapshot: Snapshot, compactThrough: number): Promise<void> {
    return this.write({ kind: 'compact', snapshot, compactThrough });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The process died: pending and future completions of this handle are ignored. */
  kill(): void {
    this.dead = true;
    this.closed = true;
  }

  private write(write: DiskWrite): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    return new Promise<void>((resolve, reject) => {
      this.disk.enqueue(write, (error) => {
        if (this.dead) return;
        if (error === null) resolve();
        else reject(error);
      });
    });
  }
}

function isSnapshotWrite(write: DiskWrite): boolean {
  return write.kind === 'compact' || write.update.snapshot !== null;
}

function describeWrite(write: DiskWrite): string {
  if (write.kind === 'persist') return describeUpdate(write.update);
  return `{compact: snapshot ${write.snapshot.meta.index}, through ${write.compactThrough}}`;
}

/** e.g. `{hs t3 v=m2 c=7, snapshot 4, entries 5..9}` */
function describeUpdate(update: PersistUpdate): string {
  const hs = update.hardState;
  const first = update.entries[0];
  const last = update.entries[update.entries.length - 1];
  const hardState = hs === null ? 'no hs' : `hs t${hs.term} v=${hs.vote} c=${hs.commit}`;
  const snapshot = update.snapshot === null ? '' : `, snapshot ${update.snapshot.meta.index}`;
  const entries =
    first === undefined || last === undefined
      ? 'no entries'
      : `entries ${first.index}..${last.index}`;
  return `{${hardState}${snapshot}, ${entries}}`;
}
