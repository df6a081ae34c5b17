/**
 * Faults on purpose (decision 10): a Transport wrapper that partitions a member from chosen peers
 * (both ways), isolates it, loses a fraction of its messages or delays them, controlled at run
 * time from tests and from the demo UI. TigerBeetle's packet simulator, in small: the same knobs
 * for a real transport. Randomness and time are injected, so a test can make it deterministic.
 */
import type { Message } from '../core/messages.js';
import type { Random } from '../core/random.js';
import type { MemberId } from '../core/types.js';
import type { Scheduler } from '../runtime/scheduler.js';
import type { Transport } from './transport.js';

/** Messages held back by a delay at once; more are dropped (a limit on everything). */
const DELAYED_MESSAGES_MAX = 10_000;

export type FaultDropReason = 'partitioned' | 'isolated' | 'lost' | 'delayQueueFull';

/** The faults in force, as status shows them. */
export interface FaultState {
  readonly isolated: boolean;
  readonly partitionedFrom: readonly MemberId[];
  readonly lossProbability: number;
  readonly delayMs: { readonly min: number; readonly max: number };
}

export interface FaultyTransportOptions {
  readonly random: Random;
  readonly scheduler: Scheduler;
}

export class FaultyTransport implements Transport {
  private readonly partitionedFrom = new Set<MemberId>();
  private isolated = false;
  private lossProbability = 0;
  private delayMs = { min: 0, max: 0 };
  private delayedCount = 0;
  private readonly dropCounts = new Map<FaultDropReason, number>();
  private closed = false;

  constructor(
    private readonly inner: Transport,
    private readonly options: FaultyTransportOptions,
  ) {}

  /** Drops every message to and from `peers` (added to any partition in force). */
  partition(peers: Iterable<MemberId>): void {
    for (const peer of peers) this.partitionedFrom.add(peer);
  }

  /** Drops every message in and out: this member is cut off from everyone. */
  isolate(): void {
    this.isolated = true;
  }

  /** Ends every partition and the isolation (loss and delay stay as set). */
  heal(): void {
    this.partitionedFrom.clear();
    this.isolated = false;
  }

  /** Loses each outgoing message with this probability, in [0, 1]. */
  setLoss(probability: number): void {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError('loss must be in [0, 1]');
    this.lossProbability = probability;
  }

  /** Delays each outgoing message by a uniform time in [minMs, maxMs] (which reorders them). */
  setDelay(minMs: number, maxMs: number): void {
    if (!(minMs >= 0 && maxMs >= minMs)) throw new RangeError('delay must be 0 <= min <= max');
    this.delayMs = { min: minMs, max: maxMs };
  }

  state(): FaultState {
    return {
      isolated: this.isolated,
      partitionedFrom: [...this.partitionedFrom],
      lossProbability: this.lossProbability,
      delayMs: { ...this.delayMs },
    };
  }

  /** Messages dropped on purpose so far, by reason. */
  drops(): Readonly<Partial<Record<FaultDropReason, number>>> {
    return Object.fromEntries(this.dropCounts);
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const passing = messages.filter((message) => this.passes(message.to) && !this.lost());
    if (passing.length === 0) return;
    if (this.delayMs.max === 0) return this.inner.send(passing);
    for (const message of passing) this.sendLater(message);
  }

  onMessage(handler: (message: Message) => void): void {
    this.inner.onMessage((message) => {
      if (this.passes(message.from)) handler(message);
    });
  }

  close(): void {
    this.closed = true;
    this.inner.close();
  }

  private passes(peer: MemberId): boolean {
    if (this.isolated) return this.drop('isolated');
    if (this.partitionedFrom.has(peer)) return this.drop('partitioned');
    return true;
  }

  private lost(): boolean {
    if (this.lossProbability === 0 || this.options.random.float() >= this.lossProbability)
      return false;
    this.drop('lost');
    return true;
  }

  private sendLater(message: Message): void {
    if (this.delayedCount >= DELAYED_MESSAGES_MAX) {
      this.drop('delayQueueFull');
      return;
    }
    const { min, max } = this.delayMs;
    this.delayedCount++;
    this.options.scheduler.setTimeout(
      () => {
        this.delayedCount--;
        // A partition made while the message waited still cuts it.
        if (!this.closed && this.passes(message.to)) this.inner.send([message]);
      },
      min + this.options.random.float() * (max - min),
    );
  }

  /** Counts a drop; returns false so callers can write `return this.drop(...)` in a filter. */
  private drop(reason: FaultDropReason): false {
    this.dropCounts.set(reason, (this.dropCounts.get(reason) ?? 0) + 1);
    return false;
  }
}
