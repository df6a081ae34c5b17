/**
 * How Raft messages travel between members. Delivery is best effort: messages may be lost,
 * duplicated, delayed or reordered, and Raft tolerates all of it.
 */
import type { Message } from '../core/messages.js';

export interface Transport {
  /** Queues messages for delivery; never blocks and never throws for an unreachable peer. */
  send(messages: readonly Message[]): void;
  /** Registers the one handler for messages addressed to this member. */
  onMessage(handler: (message: Message) => void): void;
  /** Stops sending and receiving. */
  close(): void;
}
