/**
 * FallbackTransport: a message goes over the primary when it links to the addressee, else over
 * the fallback (the WebRTC mesh and BroadcastChannel in a tab); both deliver to the member. Peers
 * it prefers the fallback for (tabs of the same browser) get the fallback even when linked.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import type { MemberId } from '../../../src/core/types.js';
import { FallbackTransport } from '../../../src/transport/fallback.js';
import type { LinkedTransport } from '../../../src/transport/fallback.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** A memory transport that claims links to `linked` peers only. */
function linkedTo(network: MemoryNetwork, id: MemberId, linked: Set<MemberId>): LinkedTransport {
  const transport = network.connect(id);
  return Object.assign(transport, { peers: () => [...linked] });
}

runTransportConformance('FallbackTransport (fallback only)', async () => {
  const primary = new MemoryNetwork();
  const fallback = new MemoryNetwork();
  return {
    connect: (id) => new FallbackTransport(linkedTo(primary, id, new Set()), fallback.connect(id)),
    settle,
  };
});

describe('FallbackTransport', () => {
  it('uses the primary for linked peers, the fallback for the rest, and hears both', async () => {
    const primary = new MemoryNetwork();
    const fallback = new MemoryNetwork();
    const linked = new Set(['b']);
    const a = new FallbackTransport(linkedTo(primary, 'a', linked), fallback.connect('a'));
    const viaPrimary: Record<string, Message[]> = { b: [], c: [] };
    const viaFallback: Record<string, Message[]> = { b: [], c: [] };
    for (const id of ['b', 'c']) {
      primary.connect(id).onMessage((m) => viaPrimary[id]!.push(m));
      fallback.connect(id).onMessage((m) => viaFallback[id]!.push(m));
    }
    a.send([appendMessage('a', 'b', 1), appendMessage('a', 'c', 1)]);
    await settle();
    expect([viaPrimary.b!.length, viaPrimary.c!.length]).toEqual([1, 0]);
    expect([viaFallback.b!.length, viaFallback.c!.length]).toEqual([0, 1]);

    linked.delete('b'); // The WebRTC link went down: b is reached the other way.
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    expect(viaFallback.b!.map((m) => m.term)).toEqual([2]);

    const received: Message[] = [];
    a.onMessage((m) => received.push(m));
    primary.connect('x').send([appendMessage('x', 'a', 3)]);
    fallback.connect('y').send([appendMessage('y', 'a', 4)]);
    await settle();
    expect(received.map((m) => m.from).sort()).toEqual(['x', 'y']);
    a.close();
  });

  it('sends to the peers it prefers the fallback for over the fallback, linked or not', async () => {
    const primary = new MemoryNetwork();
    const fallback = new MemoryNetwork();
    const local = new Set(['b']);
    const a = new FallbackTransport(
      linkedTo(primary, 'a', new Set(['b', 'c'])),
      fallback.connect('a'),
      (peer) => local.has(peer),
    );
    const via = { primary: [] as string[], fallback: [] as string[] };
    for (const id of ['b', 'c']) {
      primary.connect(id).onMessage((m) => via.primary.push(`${m.to}${m.term}`));
      fallback.connect(id).onMessage((m) => via.fallback.push(`${m.to}${m.term}`));
    }
    a.send([appendMessage('a', 'b', 1), appendMessage('a', 'c', 1)]);
    await settle();
    expect(via).toEqual({ primary: ['c1'], fallback: ['b1'] });

    local.delete('b'); // Its tab's lock is no longer held here: the mesh again.
    local.add('c');
    a.send([appendMessage('a', 'b', 2), appendMessage('a', 'c', 2)]);
    await settle();
    expect(via).toEqual({ primary: ['c1', 'b2'], fallback: ['b1', 'c2'] });
    a.close();
  });
});
