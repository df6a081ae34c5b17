/**
 * The member's Transport over a mesh of frame channels, one per peer (decisions 3 and 4). It runs
 * where the member runs (the worker); the page sets up each channel — WebRTC connection, peer
 * authentication — and attaches it here when it is ready, and detaches it when it closes.
 *
 * A frame must come from the peer its channel belongs to: the channel was authenticated for that
 * member, so a frame naming another sender is dropped (a peer cannot speak for someone else).
 * Back-pressure: above the channel's low-water mark frames wait in a bounded queue until it
 * drains; a full queue drops (counted) — Raft sends again, and memory stays bounded.
 */
import type { Message } from '../../core/messages.js';
import type { MemberId } from '../../core/types.js';
import { encodeFrame, FrameDecoder } from '../codec.js';
import type { FrameDropReason } from '../codec.js';
import type { Transport } from '../transport.js';
import { DATA_CHANNEL_LOW_WATER_BYTES } from './frame-channel.js';
import type { FrameChannel } from './frame-channel.js';

/** Bytes waiting for one peer's channel to drain; beyond it frames are dropped. */
const QUEUED_BYTES_MAX = 4 * 1024 * 1024;
/** Largest message a data channel carries in Chromium (its SCTP max-message-size). */
export const DATA_CHANNEL_MESSAGE_BYTES_MAX = 256 * 1024;

export type MeshDropReason =
  | FrameDropReason
  | 'noChannel'
  | 'queueFull'
  | 'spoofedSender'
  | 'notBytes'
  | 'noHandler'
  | 'unauthenticated'
  | 'frameTooLarge'
  | 'sendFailed';

interface Link {
  readonly channel: FrameChannel;
  readonly queue: Uint8Array<ArrayBuffer>[];
  queuedBytes: number;
}

export interface MeshTransportOptions {
  readonly cluster: string;
  readonly self: MemberId;
}

export class MeshTransport implements Transport {
  private readonly links = new Map<MemberId, Link>();
  /** Channels of attempts whose peer has not proved itself yet, by peer. */
  private readonly pending = new Map<MemberId, { gen: string; channel: FrameChannel }>();
  private readonly decoder: FrameDecoder;
  private readonly localDrops = new Map<MeshDropReason, number>();
  private handler: ((message: Message) => void) | null = null;
  private closed = false;

  constructor(private readonly options: MeshTransportOptions) {
    this.decoder = new FrameDecoder(options.cluster, options.self);
  }

  /** Uses `channel` for `peer` from now on; an older channel of that peer is closed. */
  attach(peer: MemberId, channel: FrameChannel): void {
    if (this.closed) return channel.close();
    this.detach(peer);
    const link: Link = { channel, queue: [], queuedBytes: 0 };
    this.links.set(peer, link);
    channel.onFrame((frame) => this.receive(peer, frame));
    channel.onDrain(() => this.flush(link));
    channel.onClose(() => {
      if (this.links.get(peer) === link) this.links.delete(peer);
    });
  }

  /**
   * The channel of connection attempt `gen` to `peer`, usable once `authenticated(peer, gen)`;
   * until then what arrives on it is dropped. It replaces an older pending one of `peer`.
   */
  offer(peer: MemberId, gen: string, channel: FrameChannel): void {
    if (this.closed) return channel.close();
    this.pending.get(peer)?.channel.close();
    this.pending.set(peer, { gen, channel });
    channel.onFrame(() => this.count('unauthenticated'));
    channel.onClose(() => {
      if (this.pending.get(peer)?.channel === channel) this.pending.delete(peer);
    });
  }

  /** `peer` proved itself on attempt `gen`: its pending channel of that attempt is attached. */
  authenticated(peer: MemberId, gen: string): void {
    const offered = this.pending.get(peer);
    if (offered === undefined || offered.gen !== gen) return;
    this.pending.delete(peer);
    this.attach(peer, offered.channel);
  }

  /** Stops using `peer`'s channel and closes it. */
  detach(peer: MemberId): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    this.links.delete(peer);
    link.channel.close();
  }

  /** Peers with a channel attached. */
  peers(): MemberId[] {
    return [...this.links.keys()];
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const link = this.links.get(message.to);
      if (link === undefined) {
        this.count('noChannel');
        continue;
      }
      const frame = encodeFrame(this.options.cluster, message);
      if (frame.length > DATA_CHANNEL_MESSAGE_BYTES_MAX) {
        // Core limits keep frames below this; a caller that raised them loses such frames.
        this.count('frameTooLarge');
      } else if (
        link.queue.length === 0 &&
        link.channel.bufferedAmount <= DATA_CHANNEL_LOW_WATER_BYTES
      ) {
        this.sendNow(link, frame);
      } else if (link.queuedBytes + frame.length <= QUEUED_BYTES_MAX) {
        link.queue.push(frame);
        link.queuedBytes += frame.length;
      } else {
        this.count('queueFull');
      }
    }
  }

  onMessage(handler: (message: Message) => void): void {
    if (this.handler !== null) throw new Error('onMessage may be called once');
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
    this.handler = null;
    for (const peer of [...this.links.keys()]) this.detach(peer);
    for (const { channel } of this.pending.values()) channel.close();
    this.pending.clear();
  }

  /** Frames dropped so far, by reason. */
  drops(): Readonly<Partial<Record<MeshDropReason, number>>> {
    return { ...this.decoder.drops(), ...Object.fromEntries(this.localDrops) };
  }

  /** Timeline clocks left off their messages because they were unsound (see vector-clock.ts). */
  clocksIgnored(): number {
    return this.decoder.clocksIgnored();
  }

  private receive(peer: MemberId, frame: Uint8Array | null): void {
    if (this.closed) return;
    if (frame === null) return this.count('notBytes');
    const message = this.decoder.decode(frame);
    if (message === null) return;
    if (message.from !== peer) return this.count('spoofedSender');
    if (this.handler === null) return this.count('noHandler');
    this.handler(message);
  }

  private flush(link: Link): void {
    while (link.queue.length > 0 && link.channel.bufferedAmount <= DATA_CHANNEL_LOW_WATER_BYTES) {
      const frame = link.queue.shift()!;
      link.queuedBytes -= frame.length;
      this.sendNow(link, frame);
    }
  }

  /** A channel closing under us throws from send: the frame is lost, as on any network. */
  private sendNow(link: Link, frame: Uint8Array<ArrayBuffer>): void {
    try {
      link.channel.send(frame);
    } catch {
      this.count('sendFailed');
    }
  }

  private count(reason: MeshDropReason): void {
    this.localDrops.set(reason, (this.localDrops.get(reason) ?? 0) + 1);
  }
}
