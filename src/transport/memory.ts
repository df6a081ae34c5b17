/**
 * Transport in memory: a `MemoryNetwork` hub that members of one process connect to, for tests
 * and demos. Delivery is asynchronous (a microtask per batch) and in order per sender–recipient
 * pair; messages to unknown or closed members are dropped and counted. Links can be blocked one
 * way or both ways to partition members (DESIGN decision 10: faults are first-class).
 */
import { assert } from '../core/errors.js';
import type { Message } from '../core/messages.js';
import type { MemberId } from '../core/types.js';
import type { Transport } from './transport.js';

/** Why a message was not delivered. */
export type MemoryDropReason = 'unknownMember' | 'noHandler' | 'blocked' | 'closed';

export interface MemoryNetworkOptions {
  /**
   * Deliver structured clones instead of the sent objects, as a real wire would, so a receiver
   * can never alias the sender's entries. Default true.
   */
  readonly copyMessages?: boolean;
  /** Most messages one `send` call may carry (a limit on everything). Default 10,000. */
  readonly batchMessagesMax?: number;
  /**
   * Runs a delivery later. Default: a macrotask (setImmediate, else setTimeout 0), as a real
   * network would; delivering in microtasks would starve the members' tick timers.
   */
  readonly defer?: (deliver: () => void) => void;
}

const deferToMacrotask = (deliver: () => void): void => {
  if (typeof setImmediate === 'function') setImmediate(deliver);
  else setTimeout(deliver, 0);
};

/** The hub: routes messages between the transports connected to it. */
export class MemoryNetwork {
  private readonly endpoints = new Map<MemberId, MemoryTransport>();
  private readonly blocked = new Set<string>();
  private readonly drops: Record<MemoryDropReason, number> = {
    unknownMember: 0,
    noHandler: 0,
    blocked: 0,
    closed: 0,
  };
  private readonly copyMessages: boolean;
  readonly batchMessagesMax: number;
  private readonly defer: (deliver: () => void) => void;

  constructor(options: MemoryNetworkOptions = {}) {
    this.copyMessages = options.copyMessages ?? true;
    this.batchMessagesMax = options.batchMessagesMax ?? 10_000;
    this.defer = options.defer ?? deferToMacrotask;
    assert(this.batchMessagesMax >= 1, 'batchMessagesMax must be positive');
  }

  /** Connects member `id`; a previous, closed transport of the same id is replaced. */
  connect(id: MemberId): MemoryTransport {
    const existing = this.endpoints.get(id);
    assert(existing === undefined || existing.closed, `member ${id} is already connected`);
    const transport = new MemoryTransport(this, id);
    this.endpoints.set(id, transport);
    return transport;
  }

  /** Stops delivery from `from` to `to` (one way). */
  block(from: MemberId, to: MemberId): void {
    this.blocked.add(linkKey(from, to));
  }

  /** Resumes delivery from `from` to `to`. */
  unblock(from: MemberId, to: MemberId): void {
    this.blocked.delete(linkKey(from, to));
  }

  /** Blocks every link into and out of `id`. */
  isolate(id: MemberId, others: readonly MemberId[]): void {
    for (const other of others) {
      if (other === id) continue;
      this.block(id, other);
      this.block(other, id);
    }
  }

  /** Unblocks every link. */
  heal(): void {
    this.blocked.clear();
  }

  /** Messages dropped so far, by reason. */
  dropCounts(): Readonly<Record<MemoryDropReason, number>> {
    return { ...this.drops };
  }

  /** @internal Called by MemoryTransport.send. */
  route(from: MemberId, messages: readonly Message[]): void {
    const batches = new Map<MemoryTransport, Message[]>();
    for (const message of messages) {
      assert(message.from === from, () => `member ${from} sent a message from ${message.from}`);
      const target = this.endpoints.get(message.to);
      if (target === undefined) this.drops.unknownMember++;
      else if (target.closed) this.drops.closed++;
      else if (this.blocked.has(linkKey(from, message.to))) this.drops.blocked++;
      else {
        const batch = batches.get(target) ?? [];
        batch.push(this.copyMessages ? structuredClone(message) : message);
        batches.set(target, batch);
      }
    }
    for (const [target, batch] of batches) this.defer(() => this.deliver(target, batch));
  }

  private deliver(target: MemoryTransport, batch: readonly Message[]): void {
    for (const message of batch) {
      if (target.closed) this.drops.closed++;
      else if (!target.receive(message)) this.drops.noHandler++;
    }
  }
}

/** One member's connection to a MemoryNetwork. */
export class MemoryTransport implements Transport {
  private handler: ((message: Message) => void) | null = null;
  private closedValue = false;

  /** Use `MemoryNetwork.connect`. */
  constructor(
    private readonly network: MemoryNetwork,
    readonly id: MemberId,
  ) {}

  get closed(): boolean {
    return this.closedValue;
  }

  send(messages: readonly Message[]): void {
    if (this.closedValue || messages.length === 0) return;
    assert(messages.length <= this.network.batchMessagesMax, 'too many messages in one send');
    this.network.route(this.id, messages);
  }

  onMessage(handler: (message: Message) => void): void {
    assert(this.handler === null, 'onMessage may be called once');
    this.handler = handler;
  }

  close(): void {
    this.closedValue = true;
    this.handler = null;
  }

  /** @internal Returns false when no handler is registered. */
  receive(message: Message): boolean {
    if (this.handler === null) return false;
    this.handler(message);
    return true;
  }
}

function linkKey(from: MemberId, to: MemberId): string {
  return `${from}\u0000${to}`;
}
