/**
 * MemoryTransport: the shared transport conformance suite, plus what only the memory twin
 * promises (per-pair order, drop counters, blocked links, copies).
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

runTransportConformance('MemoryTransport', async () => {
  const network = new MemoryNetwork();
  return { connect: (id) => network.connect(id), settle };
});

describe('MemoryTransport', () => {
  it('keeps the order of messages between one sender and one recipient', async () => {
    const network = new MemoryNetwork();
    const a = network.connect('a');
    const b = network.connect('b');
    const terms: number[] = [];
    b.onMessage((message) => terms.push(message.term));
    for (let term = 1; term <= 5; term++) a.send([appendMessage('a', 'b', term)]);
    a.send([appendMessage('a', 'b', 6), appendMessage('a', 'b', 7)]);
    await settle();
    expect(terms).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('counts messages to unknown members, closed members and members without a handler', async () => {
    const network = new MemoryNetwork();
    const a = network.connect('a');
    network.connect('silent');
    network.connect('gone').close();
    a.send([
      appendMessage('a', 'nobody', 1),
      appendMessage('a', 'gone', 1),
      appendMessage('a', 'silent', 1),
    ]);
    await settle();
    expect(network.dropCounts()).toEqual({ unknownMember: 1, noHandler: 1, blocked: 0, closed: 1 });
  });

  it('drops messages on a blocked link, one way only, until it is unblocked', async () => {
    const network = new MemoryNetwork();
    const a = network.connect('a');
    const b = network.connect('b');
    const got: string[] = [];
    a.onMessage((m) => got.push(`${m.from}->${m.to}`));
    b.onMessage((m) => got.push(`${m.from}->${m.to}`));
    network.block('a', 'b');
    a.send([appendMessage('a', 'b', 1)]);
    b.send([appendMessage('b', 'a', 1)]);
    await settle();
    network.unblock('a', 'b');
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    expect(got).toEqual(['b->a', 'a->b']);
    expect(network.dropCounts().blocked).toBe(1);
  });

  it('isolates a member from all others and heals', async () => {
    const network = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const [a, b, c] = ids.map((id) => network.connect(id));
    let received = 0;
    for (const t of [a, b, c]) t!.onMessage(() => received++);
    network.isolate('a', ids);
    a!.send([appendMessage('a', 'b', 1), appendMessage('a', 'c', 1)]);
    b!.send([appendMessage('b', 'a', 1), appendMessage('b', 'c', 1)]);
    await settle();
    expect(received).toBe(1);
    network.heal();
    a!.send([appendMessage('a', 'b', 1)]);
    await settle();
    expect(received).toBe(2);
  });

  it("delivers copies, so a receiver never aliases the sender's entry bytes", async () => {
    const network = new MemoryNetwork();
    const a = network.connect('a');
    const b = network.connect('b');
    let received: Message | null = null;
    b.onMessage((message) => (received = message));
    const sent = appendMessage('a', 'b', 1);
    a.send([sent]);
    await settle();
    expect(received).toEqual(sent);
    expect(received).not.toBe(sent);
  });

  it("refuses a message whose sender is not the transport's member", () => {
    const network = new MemoryNetwork();
    const a = network.connect('a');
    expect(() => a.send([appendMessage('b', 'a', 1)])).toThrow(/sent a message from b/);
  });

  it('lets a member reconnect after its transport closed', () => {
    const network = new MemoryNetwork();
    network.connect('a').close();
    expect(() => network.connect('a')).not.toThrow();
    expect(() => network.connect('a')).toThrow(/already connected/);
  });
});
