/**
 * Transport between tabs of one browser over BroadcastChannel: no server at all, the offline-first
 * path (decision 3), and the only path between tabs of this browser (they do not dial each other
 * over WebRTC, see room-session.ts; a tab that did is still sent to here, see fallback.ts).
 * Frames use the same codec and the same validation as WebRTC: a frame from a buggy or hostile
 * tab is dropped and counted, never thrown into the member.
 *
 * Every object of a channel's name gets what any other posts on it, listener or not. So each
 * member listens on an inbox of its own, `webraft/<cluster>/<memberId>`, but does not talk
 * through the inboxes of others once it can help it: every sender would hold an object of that
 * name and get every frame sent to the same member (in a room of 25 tabs, every answer to the
 * leader went to 24 tabs). Two members instead talk on a channel of the pair,
 * `webraft-pair/<cluster>/<a>/<b>`, which only their two objects hold. Each frame goes one way
 * only, so nothing is delivered twice:
 *
 * - a member opens the pair channel to a peer when it first sends to it or hears from it, and
 *   says `PAIR_HELLO` on it: "I listen here";
 * - it sends on the pair channel while it heard the peer there lately (`PAIR_QUIET_MS`: a frame or
 *   a hello), else to the peer's inbox, since the peer may not hold the pair channel (it just
 *   started, or its tab was reloaded);
 * - a frame of the peer in its inbox means the peer does not hear it on the pair channel: it says
 *   hello there again (at most every `PAIR_HELLO_EVERY_MS`);
 * - a member opens the pair channels with the tabs it knows of at once (`listenTo`): a reloaded
 *   tab's member is then heard, and hears, where its earlier run was.
 */
import type { Message } from '../core/messages.js';
import type { MemberId } from '../core/types.js';
import { encodeFrame, FRAME_BYTES_MAX, FrameDecoder } from './codec.js';
import type { FrameDropReason } from './codec.js';
import type { Transport } from './transport.js';

/** Pair channels kept open; the least recently used closes beyond this. */
const PAIR_CHANNELS_MAX = 64;
/**
 * A peer not heard on the pair channel for this long may no longer hold it (a reloaded tab holds
 * a new one only once it hears from us): frames go to its inbox again. A leader hears a peer
 * every heartbeat, so this is many heartbeats.
 */
const PAIR_QUIET_MS = 1_000;
/** What a member says on a pair channel it listens on; a string, so never taken for a frame. */
const PAIR_HELLO = 'webraft-pair-hello';
const PAIR_HELLO_EVERY_MS = 250;

export interface BroadcastChannelTransportOptions {
  /** The cluster (room) id: frames of other clusters are dropped. */
  readonly cluster: string;
  readonly self: MemberId;
  /** The BroadcastChannel constructor; default the global one (browsers, workers, Node 18+). */
  readonly channel?: new (name: string) => BroadcastChannel;
  /** Milliseconds, for PAIR_QUIET_MS; default `performance.now`. */
  readonly now?: () => number;
}

/** Why a frame was not sent or not delivered, beyond the codec's reasons. */
export type BroadcastDropReason =
  | FrameDropReason
  | 'oversizeSend'
  | 'noHandler'
  | 'notBytes'
  /** A frame on a pair channel from someone other than the pair's peer. */
  | 'wrongPair';

interface Pair {
  readonly channel: BroadcastChannel;
  /** When the peer last said something on this channel; -Infinity before the first. */
  heardAtMs: number;
  /** When we last said hello on it. */
  helloAtMs: number;
}

export class BroadcastChannelTransport implements Transport {
  private readonly inbox: BroadcastChannel;
  /** Peers' inboxes, posted to while a pair channel is not known to work; never listened on. */
  private readonly inboxes = new Map<MemberId, BroadcastChannel>();
  private readonly pairs = new Map<MemberId, Pair>();
  private readonly now: () => number;
  private readonly decoder: FrameDecoder;
  private readonly localDrops = new Map<BroadcastDropReason, number>();
  private readonly Channel: new (name: string) => BroadcastChannel;
  private handler: ((message: Message) => void) | null = null;
  private closed = false;

  constructor(private readonly options: BroadcastChannelTransportOptions) {
    this.Channel = options.channel ?? BroadcastChannel;
    this.now = options.now ?? (() => performance.now());
    this.decoder = new FrameDecoder(options.cluster, options.self);
    this.inbox = new this.Channel(channelName(options.cluster, options.self));
    this.inbox.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data, null);
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const frame = encodeFrame(this.options.cluster, message);
      if (frame.length > FRAME_BYTES_MAX) {
        this.count('oversizeSend');
        continue;
      }
      const pair = this.pairWith(message.to);
      const listening = this.now() - pair.heardAtMs < PAIR_QUIET_MS;
      (listening ? pair.channel : this.inboxOf(message.to)).postMessage(frame);
    }
  }

  /**
   * Opens the pair channel with each of `peers` not open yet and says hello on it, so that a
   * member that heard an earlier run of this member there lately reaches this one at once.
   */
  listenTo(peers: Iterable<MemberId>): void {
    if (this.closed) return;
    for (const peer of peers)
      if (peer !== this.options.self && !this.pairs.has(peer)) this.pairWith(peer);
  }

  onMessage(handler: (message: Message) => void): void {
    if (this.handler !== null) throw new Error('onMessage may be called once');
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.inbox.close();
    for (const channel of this.inboxes.values()) channel.close();
    for (const { channel } of this.pairs.values()) channel.close();
    this.inboxes.clear();
    this.pairs.clear();
  }

  /** Frames dropped so far, by reason (received frames that failed validation included). */
  drops(): Readonly<Partial<Record<BroadcastDropReason, number>>> {
    return { ...this.decoder.drops(), ...Object.fromEntries(this.localDrops) };
  }

  /** Timeline clocks left off their messages because they were unsound (see vector-clock.ts). */
  clocksIgnored(): number {
    return this.decoder.clocksIgnored();
  }

  /** A frame from the inbox (`pairPeer` null) or what came on the pair channel with `pairPeer`. */
  private receive(data: unknown, pairPeer: MemberId | null): void {
    if (this.closed) return;
    if (pairPeer !== null && data === PAIR_HELLO) {
      const pair = this.pairs.get(pairPeer);
      if (pair !== undefined) pair.heardAtMs = this.now();
      return;
    }
    if (!(data instanceof Uint8Array)) return this.count('notBytes');
    const message = this.decoder.decode(data);
    if (message === null) return;
    if (pairPeer !== null && message.from !== pairPeer) return this.count('wrongPair');
    if (this.handler === null) return this.count('noHandler');
    const pair = this.pairWith(message.from);
    if (pairPeer !== null) pair.heardAtMs = this.now();
    else if (this.now() - pair.helloAtMs >= PAIR_HELLO_EVERY_MS) this.sayHello(pair);
    this.handler(message);
  }

  /** The pair channel with `peer`, opened (listened on, and said hello on) if need be. */
  private pairWith(peer: MemberId): Pair {
    let pair = this.pairs.get(peer);
    if (pair !== undefined) {
      this.pairs.delete(peer); // Re-inserted below: the map's order is the recency order.
    } else {
      const channel = new this.Channel(
        pairChannelName(this.options.cluster, this.options.self, peer),
      );
      channel.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data, peer);
      pair = { channel, heardAtMs: -Infinity, helloAtMs: -Infinity };
      evictOldest(this.pairs, (stale) => stale.channel.close());
      this.sayHello(pair);
    }
    this.pairs.set(peer, pair);
    return pair;
  }

  private sayHello(pair: Pair): void {
    pair.helloAtMs = this.now();
    pair.channel.postMessage(PAIR_HELLO);
  }

  private inboxOf(peer: MemberId): BroadcastChannel {
    let channel = this.inboxes.get(peer);
    if (channel !== undefined) {
      this.inboxes.delete(peer);
    } else {
      channel = new this.Channel(channelName(this.options.cluster, peer));
      evictOldest(this.inboxes, (stale) => stale.close());
    }
    this.inboxes.set(peer, channel);
    return channel;
  }

  private count(reason: BroadcastDropReason): void {
    this.localDrops.set(reason, (this.localDrops.get(reason) ?? 0) + 1);
  }
}

export function channelName(cluster: string, member: MemberId): string {
  return `webraft/${cluster}/${member}`;
}

/** The channel two members talk on: one name for both, whichever of them names it. */
export function pairChannelName(cluster: string, one: MemberId, other: MemberId): string {
  const [a, b] = one < other ? [one, other] : [other, one];
  return `webraft-pair/${cluster}/${a}/${b}`;
}

/** Closes and forgets the least recently used entry of `map` when it is full. */
function evictOldest<V>(map: Map<MemberId, V>, close: (value: V) => void): void {
  if (map.size < PAIR_CHANNELS_MAX) return;
  const [oldest, stale] = map.entries().next().value as [MemberId, V];
  close(stale);
  map.delete(oldest);
}
