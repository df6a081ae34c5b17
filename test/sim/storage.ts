/**
 * Simulated durable storage (TESTING.md 11, 14–17). A `SimDisk` is one member's disk: it outlives
 * crashes. Each incarnation of the member opens a `SimStorage` on it. A write becomes durable only
 * when its completion event runs after a random latency; until then it is in flight. At a crash,
 * in-flight writes are lost, or survive, or the oldest lost one is torn (a prefix of its entries
 * kept, its hard state kept or not). A write whose promise resolved is never lost, and a crashed
 * incarnation's pending promises never settle.
 */
import type { Random } from '../../src/core/random.js';
import type { HardState, MemberId } from '../../src/core/types.js';
import { MemoryDisk } from '../../src/storage/memory.js';
import type { PersistedState, PersistUpdate, Storage } from '../../src/storage/storage.js';
import type { StorageOptions } from './options.js';
import type { SimEvent, VirtualTime } from './virtual-time.js';

/** Most writes in flight on one disk (the driver awaits each, so more means a bug). */
const INFLIGHT_WRITES_MAX = 64;

/** Where a planned crash strikes relative to the next write (TESTING.md 11). */
export type CrashPoint = 'beforeWrite' | 'afterWrite';

/** Reports what the disk saw, for the invariant checker. */
export interface DiskObserver {
  /** A write reached the disk; `before` is the hard state it replaced. */
  onDurable?(member: MemberId, before: HardState, update: PersistUpdate): void;
  /** The disk refused an update (a hole, a term going backwards): a bug in the core or driver. */
  onRefused?(member: MemberId, error: Error): void;
  /** What a crash did to the writes in flight, for traces. */
  onCrash?(member: MemberId, summary: string): void;
}

interface InflightWrite {
  readonly update: PersistUpdate;
  readonly event: SimEvent;
}

/** Counters for reports. */
export interface DiskStats {
  writes: number;
  lostWrites: number;
  tornWrites: number;
  survivedWrites: number;
}

/** One member's disk: durable state plus the queue of writes in flight. */
export class SimDisk {
  readonly durable = new MemoryDisk();
  private inflight: InflightWrite[] = [];
  private lastCompletionMs = 0;
  private armed: { point: CrashPoint; crash: () => void } | null = null;
  readonly stats: DiskStats = { writes: 0, lostWrites: 0, tornWrites: 0, survivedWrites: 0 };

  constructor(
    readonly member: MemberId,
    private readonly time: VirtualTime,
    private readonly random: Random,
    private readonly options: StorageOptions,
    private readonly observer: DiskObserver = {},
  ) {}

  /** Opens the disk for a new incarnation. */
  open(): SimStorage {
    return new SimStorage(this);
  }

  /** The next write triggers `crash` right before it is durable, or right after (unacknowledged). */
  armCrash(point: CrashPoint, crash: () => void): void {
    this.armed = { point, crash };
  }

  disarm(): void {
    this.armed = null;
  }

  get inflightCount(): number {
    return this.inflight.length;
  }

  /** @internal Queues one write; `done` runs once it is durable (unless a crash comes first). */
  enqueue(update: PersistUpdate, done: (error: Error | null) => void): void {
    if (this.inflight.length >= INFLIGHT_WRITES_MAX)
      throw new Error(`${this.member}: too many writes in flight`);
    this.stats.writes++;
    const completeAt = Math.max(this.lastCompletionMs, this.time.now + this.drawLatency());
    this.lastCompletionMs = completeAt;
    const event = this.time.schedule(completeAt - this.time.now, this.member, 'storage', () => {
      this.inflight.shift();
      const error = this.writeDurably(update);
      const armed = this.takeArmed('afterWrite');
      if (armed !== null) {
        // Durable but never acknowledged: the member dies before it can act on the write.
        this.time.schedule(0, null, 'control', armed);
        return;
      }
      done(error);
    });
    this.inflight.push({ update, event });
    const armed = this.takeArmed('beforeWrite');
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
    for (const { update, event } of pending) {
      this.time.cancel(event);
      if (lost) {
        this.stats.lostWrites++;
        outcomes.push(`lost ${describeUpdate(update)}`);
      } else if (this.random.float() < this.options.inflightSurvivalProbability) {
        this.stats.survivedWrites++;
        this.writeDurably(update);
        outcomes.push(`kept ${describeUpdate(update)}`);
      } else {
        lost = true;
        if (this.random.float() < this.options.tornProbability)
          outcomes.push(this.writeTorn(update));
        else {
          this.stats.lostWrites++;
          outcomes.push(`lost ${describeUpdate(update)}`);
        }
      }
    }
    this.lastCompletionMs = this.time.now;
    this.observer.onCrash?.(this.member, outcomes.join('; ') || 'nothing in flight');
  }

  /** Keeps a prefix of the update's entries, and its hard state or not; returns what it did. */
  private writeTorn(update: PersistUpdate): string {
    this.stats.tornWrites++;
    const kept = this.random.int(update.entries.length + 1);
    const allEntries = kept === update.entries.length;
    const keepHardState =
      update.hardState !== null &&
      (allEntries || this.options.tornHardStateAlone) &&
      this.random.int(2) === 0;
    const torn: PersistUpdate = {
      hardState: keepHardState ? update.hardState : null,
      entries: update.entries.slice(0, kept),
    };
    if (torn.hardState !== null || torn.entries.length > 0) this.writeDurably(torn);
    return `tore ${describeUpdate(update)} to ${describeUpdate(torn)}`;
  }

  private writeDurably(update: PersistUpdate): Error | null {
    const before = this.durable.hardState;
    try {
      this.durable.write(update);
    } catch (error) {
      this.observer.onRefused?.(this.member, error as Error);
      return error as Error;
    }
    this.observer.onDurable?.(this.member, before, update);
    return null;
  }

  private takeArmed(point: CrashPoint): (() => void) | null {
    if (this.armed === null || this.armed.point !== point) return null;
    const { crash } = this.armed;
    this.armed = null;
    return crash;
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
    return this.disk.durable.read();
  }

  persist(update: PersistUpdate): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    return new Promise<void>((resolve, reject) => {
      this.disk.enqueue(update, (error) => {
        if (this.dead) return;
        if (error === null) resolve();
        else reject(error);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The process died: pending and future completions of this handle are ignored. */
  kill(): void {
    this.dead = true;
    this.closed = true;
  }
}

/** e.g. `{hs t3 v=m2 c=7, entries 5..9}` */
function describeUpdate(update: PersistUpdate): string {
  const hs = update.hardState;
  const first = update.entries[0];
  const last = update.entries[update.entries.length - 1];
  const hardState = hs === null ? 'no hs' : `hs t${hs.term} v=${hs.vote} c=${hs.commit}`;
  const entries =
    first === undefined || last === undefined
      ? 'no entries'
      : `entries ${first.index}..${last.index}`;
  return `{${hardState}, ${entries}}`;
}
