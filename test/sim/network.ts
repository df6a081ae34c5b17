/**
 * The simulated network (TigerBeetle's packet simulator, for Raft messages): every message sent
 * through a member's `SimTransport` is delayed by a random one-way delay (which also reorders),
 * and may be lost, duplicated, replayed later, held on a clogged link and released in a burst,
 * or cut by a partition or by a long isolation of one member (a slow follower). A message to or
 * from an edge member crosses a WAN hop instead: a higher, steadier delay (`EdgeLinks`), with the
 * same faults. All randomness comes from the seed; every delivery is a virtual-time event owned by
 * the recipient, so a paused member receives nothing until it resumes.
 */
import type { Message } from '../../src/core/messages.js';
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';
import type { Transport } from '../../src/transport/transport.js';
import type { NetworkOptions } from './options.js';
import type { Partition } from './partitions.js';
import { linkKey } from './partitions.js';
import type { VirtualTime } from './virtual-time.js';

/** Most past messages kept for replays. */
const REPLAY_BUFFER_MAX = 256;
/** Most messages one member may hand over in a single send. */
const SEND_BATCH_MAX = 10_000;

/** Counters of what the network did, for reports. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  cut: number;
  duplicated: number;
  replayed: number;
  clogged: number;
  undeliverable: number;
}

/**
 * The WAN hop to and from edge members (options.ts `EdgeOptions`): at least `delayMinMs`, plus an
 * exponential tail of mean `delayJitterMeanMs` cut at `delayMaxMs`.
 */
export interface EdgeLinks {
  readonly ids: ReadonlySet<MemberId>;
  readonly delayMinMs: number;
  readonly delayJitterMeanMs: number;
  readonly delayMaxMs: number;
}

/** Called for every message a member sends, before any fault: used by the invariant checker. */
export type SendObserver = (message: Message) => void;

/** Routes messages between the members' transports, injecting faults. */
export class SimNetwork {
  private readonly transports = new Map<MemberId, SimTransport>();
  private partition: Partition | null = null;
  private readonly cloggedUntil = new Map<string, number>();
  private readonly isolatedUntil = new Map<MemberId, number>();
  private readonly replayBuffer: Message[] = [];
  private calm = false;
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    cut: 0,
    duplicated: 0,
    replayed: 0,
    clogged: 0,
    undeliverable: 0,
  };

  constructor(
    private readonly time: VirtualTime,
    private readonly random: Random,
    private readonly options: NetworkOptions,
    private readonly observeSend: SendObserver = () => undefined,
    private readonly edge: EdgeLinks | null = null,
  ) {}

  /** Connects a new incarnation of member `id`; its previous transport must be closed. */
  connect(id: MemberId): SimTransport {
    const previous = this.transports.get(id);
    if (previous !== undefined && !previous.closed)
      throw new Error(`member ${id} is already connected`);
    const transport = new SimTransport(this, id);
    this.transports.set(id, transport);
    return transport;
  }

  /** Cuts the links of `partition` (replacing any previous one); null heals partitions. */
  setPartition(partition: Partition | null): void {
    this.partition = partition;
  }

  get currentPartition(): Partition | null {
    return this.partition;
  }

  /** Holds messages on the one-way link until `untilMs`, then releases them together. */
  clog(from: MemberId, to: MemberId, untilMs: number): void {
    const key = linkKey(from, to);
    this.cloggedUntil.set(key, Math.max(untilMs, this.cloggedUntil.get(key) ?? 0));
  }

  /**
   * Cuts every link into and out of `member` until `untilMs`, on top of any partition (a slow
   * follower that falls so far behind that it needs a snapshot, TESTING.md 10).
   */
  isolate(member: MemberId, untilMs: number): void {
    this.isolatedUntil.set(member, Math.max(untilMs, this.isolatedUntil.get(member) ?? 0));
  }

  /** Whether `member` is isolated now. */
  isIsolated(member: MemberId): boolean {
    return (this.isolatedUntil.get(member) ?? 0) > this.time.now;
  }

  /**
   * Whether `a` and `b` can talk both ways now (no partition cut, neither isolated): a tab's
   * WebRTC channel to a peer stays open only then.
   */
  linked(a: MemberId, b: MemberId): boolean {
    const blocked = this.partition?.blocked;
    if (blocked?.has(linkKey(a, b)) === true || blocked?.has(linkKey(b, a)) === true) return false;
    return !this.isIsolated(a) && !this.isIsolated(b);
  }

  /**
   * Calm mode (the liveness phase): no loss, duplication, replay, clogging or partitions; only
   * delays remain. Messages already held on clogged links are still released at their time.
   */
  setCalm(calm: boolean): void {
    this.calm = calm;
    if (calm) {
      this.partition = null;
      this.cloggedUntil.clear();
      this.isolatedUntil.clear();
    }
  }

  /** @internal Called by SimTransport.send. */
  send(from: MemberId, messages: readonly Message[]): void {
    if (messages.length > SEND_BATCH_MAX)
      throw new Error(`${messages.length} messages in one send`);
    for (const message of messages) {
      if (message.from !== from)
        throw new Error(`member ${from} sent a message from ${message.from}`);
      this.observeSend(message);
      this.stats.sent++;
      this.transmit(message);
      if (!this.calm && this.random.float() < this.options.replayProbability) this.replayOld();
      this.remember(message);
    }
  }

  private transmit(message: Message): void {
    if (
      this.partition?.blocked.has(linkKey(message.from, message.to)) === true ||
      this.isIsolated(message.from) ||
      this.isIsolated(message.to)
    ) {
      this.stats.cut++;
      return;
    }
    if (!this.calm && this.random.float() < this.options.lossProbability) {
      this.stats.lost++;
      return;
    }
    this.scheduleDelivery(message);
    if (!this.calm && this.random.float() < this.options.duplicateProbability) {
      this.stats.duplicated++;
      this.scheduleDelivery(message);
    }
  }

  private replayOld(): void {
    const buffer = this.replayBuffer;
    if (buffer.length === 0) return;
    const old = buffer[this.random.int(buffer.length)]!;
    this.stats.replayed++;
    this.transmit(old);
  }

  private remember(message: Message): void {
    if (this.options.replayProbability === 0) return;
    if (this.replayBuffer.length < REPLAY_BUFFER_MAX) this.replayBuffer.push(message);
    else this.replayBuffer[this.random.int(REPLAY_BUFFER_MAX)] = message;
  }

  private scheduleDelivery(message: Message): void {
    let at = this.time.now + this.drawDelay(message);
    const clogEnd = this.cloggedUntil.get(linkKey(message.from, message.to));
    if (clogEnd !== undefined && clogEnd > this.time.now) {
      this.stats.clogged++;
      at = Math.max(at, clogEnd + this.random.float());
    }
    this.time.schedule(at - this.time.now, message.to, 'message', () => this.deliver(message));
  }

  /** Exponential delay above the minimum, cut at the maximum: a tab's, or the edge's WAN hop. */
  private drawDelay(message: Message): number {
    const edge = this.edge;
    if (edge !== null && (edge.ids.has(message.from) || edge.ids.has(message.to))) {
      const jitter = -Math.log(1 - this.random.float()) * edge.delayJitterMeanMs;
      return Math.min(edge.delayMaxMs, edge.delayMinMs + jitter);
    }
    const { delayMinMs, delayMeanMs, delayMaxMs } = this.options;
    const tail = -Math.log(1 - this.random.float()) * (delayMeanMs - delayMinMs);
    return Math.min(delayMaxMs, delayMinMs + tail);
  }

  private deliver(message: Message): void {
    const target = this.transports.get(message.to);
    if (target === undefined || !target.receive(message)) {
      this.stats.undeliverable++;
      return;
    }
    this.stats.delivered++;
  }
}

/** One incarnation's connection to the SimNetwork. */
export class SimTransport implements Transport {
  private handler: ((message: Message) => void) | null = null;
  private closedValue = false;

  constructor(
    private readonly network: SimNetwork,
    readonly id: MemberId,
  ) {}

  get closed(): boolean {
    return this.closedValue;
  }

  send(messages: readonly Message[]): void {
    if (this.closedValue) return;
    this.network.send(this.id, messages);
  }

  onMessage(handler: (message: Message) => void): void {
    if (this.handler !== null) throw new Error('onMessage may be called once');
    this.handler = handler;
  }

  close(): void {
    this.closedValue = true;
    this.handler = null;
  }

  /** @internal Returns false when closed or without a handler. */
  receive(message: Message): boolean {
    if (this.closedValue || this.handler === null) return false;
    this.handler(message);
    return true;
  }
}
