/**
 * Transport between tabs of one browser over BroadcastChannel: no server at all, the offline-first
 * path (decision 3). Each member listens on its own channel, `webraft/<cluster>/<memberId>`, so a
 * frame reaches only its addressee; the sender keeps one channel per peer it talks to (bounded).
 * Frames use the same codec and the same validation as WebRTC: a frame from a buggy or hostile
 * tab is dropped and counted, never thrown into the member.
 */
import type { Message } from '../core/messages.js';
import type { MemberId } from '../core/types.js';
import { encodeFrame, FRAME_BYTES_MAX, FrameDecoder } from './codec.js';
import type { FrameDropReason } from './codec.js';
import type { Transport } from './transport.js';

/** Channels kept open towards peers; the least recently used closes beyond this. */
const PEER_CHANNELS_MAX = 64;

export interface BroadcastChannelTransportOptions {
  /** The cluster (room) id: frames of other clusters are dropped. */
  readonly cluster: string;
  readonly self: MemberId;
  /** The BroadcastChannel constructor; default the global one (browsers, workers, Node 18+). */
  readonly channel?: new (name: string) => BroadcastChannel;
}

/** Why a frame was not sent or not delivered, beyond the codec's reasons. */
export type BroadcastDropReason = FrameDropReason | 'oversizeSend' | 'noHandler' | 'notBytes';

export class BroadcastChannelTransport implements Transport {
  private readonly inbox: BroadcastChannel;
  private readonly peers = new Map<MemberId, BroadcastChannel>();
  private readonly decoder: FrameDecoder;
  private readonly localDrops = new Map<BroadcastDropReason, number>();
  private readonly Channel: new (name: string) => BroadcastChannel;
  private handler: ((message: Message) => void) | null = null;
  private closed = false;

  constructor(private readonly options: BroadcastChannelTransportOptions) {
    this.Channel = options.channel ?? BroadcastChannel;
    this.decoder = new FrameDecoder(options.cluster, options.self);
    this.inbox = new this.Channel(channelName(options.cluster, options.self));
    this.inbox.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data);
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const frame = encodeFrame(this.options.cluster, message);
      if (frame.length > FRAME_BYTES_MAX) {
        this.count('oversizeSend');
        continue;
      }
      this.channelTo(message.to).postMessage(frame);
    }
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
    for (const channel of this.peers.values()) channel.close();
    this.peers.clear();
  }

  /** Frames dropped so far, by reason (received frames that failed validation included). */
  drops(): Readonly<Partial<Record<BroadcastDropReason, number>>> {
    return { ...this.decoder.drops(), ...Object.fromEntries(this.localDrops) };
  }

  /** Timeline clocks left off their messages because they were unsound (see vector-clock.ts). */
  clocksIgnored(): number {
    return this.decoder.clocksIgnored();
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    if (!(data instanceof Uint8Array)) return this.count('notBytes');
    const message = this.decoder.decode(data);
    if (message === null) return;
    if (this.handler === null) return this.count('noHandler');
    this.handler(message);
  }

  private channelTo(peer: MemberId): BroadcastChannel {
    let channel = this.peers.get(peer);
    if (channel !== undefined) {
      this.peers.delete(peer); // Re-inserted below: the map's order is the recency order.
    } else {
      channel = new this.Channel(channelName(this.options.cluster, peer));
      if (this.peers.size >= PEER_CHANNELS_MAX) {
        const [oldest, stale] = this.peers.entries().next().value as [MemberId, BroadcastChannel];
        stale.close();
        this.peers.delete(oldest);
      }
    }
    this.peers.set(peer, channel);
    return channel;
  }

  private count(reason: BroadcastDropReason): void {
    this.localDrops.set(reason, (this.localDrops.get(reason) ?? 0) + 1);
  }
}

export function channelName(cluster: string, member: MemberId): string {
  return `webraft/${cluster}/${member}`;
}
