/**
 * Two transports as one: each message goes over the primary when it has a link to the addressee,
 * else over the fallback; what either receives goes to the member. In a tab, the primary is the
 * WebRTC mesh and the fallback BroadcastChannel, so tabs of one browser keep talking while the
 * signaling server is down (a tab that started meanwhile has no WebRTC link at all), and the mesh
 * takes over again as its links come up. Raft tolerates the duplicates and reordering that the
 * switch between paths can cause, as it tolerates them on any one path.
 *
 * Peers for which `prefersFallback` holds go over the fallback even when the primary links them:
 * in a tab, members run by other tabs of the same browser (which the page does not dial, but one
 * may have dialed it, having looked before its lock showed). A frame to such a tab over
 * BroadcastChannel crosses the browser's IPC once; over WebRTC it is encrypted, cut into SCTP
 * chunks, sent through the network service as UDP and taken apart again, which costs more CPU and
 * more time (y-webrtc takes BroadcastChannel to tabs of its browser for the same reason).
 */
import type { Message } from '../core/messages.js';
import type { MemberId } from '../core/types.js';
import type { Transport } from './transport.js';

/** A transport that can tell whether it reaches a peer right now. */
export interface LinkedTransport extends Transport {
  /** Peers this transport has a working link to. */
  peers(): MemberId[];
}

export class FallbackTransport implements Transport {
  private handler: ((message: Message) => void) | null = null;

  constructor(
    private readonly primary: LinkedTransport,
    private readonly fallback: Transport,
    private readonly prefersFallback: (peer: MemberId) => boolean = () => false,
  ) {
    primary.onMessage((message) => this.handler?.(message));
    fallback.onMessage((message) => this.handler?.(message));
  }

  send(messages: readonly Message[]): void {
    const linked = new Set(this.primary.peers());
    const viaPrimary: Message[] = [];
    const viaFallback: Message[] = [];
    for (const message of messages) {
      const primary = linked.has(message.to) && !this.prefersFallback(message.to);
      (primary ? viaPrimary : viaFallback).push(message);
    }
    if (viaPrimary.length > 0) this.primary.send(viaPrimary);
    if (viaFallback.length > 0) this.fallback.send(viaFallback);
  }

  onMessage(handler: (message: Message) => void): void {
    if (this.handler !== null) throw new Error('onMessage may be called once');
    this.handler = handler;
  }

  close(): void {
    this.handler = null;
    this.primary.close();
    this.fallback.close();
  }
}
