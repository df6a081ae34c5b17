/**
 * The transport conformance suite: every Transport — memory, BroadcastChannel, WebRTC — must pass
 * these tests. Delivery is best effort in general, but on a healthy connection a message sent is
 * a message received, intact, asynchronously, and a closed transport neither sends nor receives.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import type { MemberId } from '../../../src/core/types.js';
import type { Transport } from '../../../src/transport/transport.js';

/** A healthy network on which transports for any member ids can be opened. */
export interface TransportNetworkUnderTest {
  connect(id: MemberId): Transport | Promise<Transport>;
  /** Resolves once everything sent so far had its chance to arrive. */
  settle(): Promise<void>;
}

/** An append carrying entries with binary data, so the suite checks bytes survive the trip. */
export function appendMessage(from: MemberId, to: MemberId, term: number): Message {
  return {
    type: 'append',
    from,
    to,
    term,
    prevIndex: 4,
    prevTerm: 1,
    commit: 3,
    entries: [{ index: 5, term, kind: 'normal', data: new Uint8Array([1, 2, 3, term]) }],
  };
}

function heartbeat(from: MemberId, to: MemberId, readSeq: number): Message {
  return { type: 'heartbeat', from, to, term: 1, commit: 0, readSeq, sentTick: readSeq };
}

/** Registers the conformance tests for one Transport implementation. */
export function runTransportConformance(
  name: string,
  makeNetwork: () => Promise<TransportNetworkUnderTest>,
): void {
  describe(`Transport conformance: ${name}`, () => {
    it('delivers a message to its addressee, intact', async () => {
      const network = await makeNetwork();
      const a = await network.connect('a');
      const b = await network.connect('b');
      const received: Message[] = [];
      b.onMessage((message) => received.push(message));
      a.send([appendMessage('a', 'b', 2)]);
      await network.settle();
      expect(received).toEqual([appendMessage('a', 'b', 2)]);
    });

    it('delivers asynchronously, never inside send', async () => {
      const network = await makeNetwork();
      const a = await network.connect('a');
      const b = await network.connect('b');
      let count = 0;
      b.onMessage(() => count++);
      a.send([heartbeat('a', 'b', 1)]);
      expect(count).toBe(0);
      await network.settle();
      expect(count).toBe(1);
    });

    it('delivers every message of a batch to the right member', async () => {
      const network = await makeNetwork();
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => network.connect(id)));
      const seen: string[] = [];
      b!.onMessage((m) => seen.push(`b:${m.type === 'heartbeat' ? m.readSeq : '?'}`));
      c!.onMessage((m) => seen.push(`c:${m.type === 'heartbeat' ? m.readSeq : '?'}`));
      a!.send([heartbeat('a', 'b', 1), heartbeat('a', 'c', 2), heartbeat('a', 'b', 3)]);
      await network.settle();
      expect(seen.sort()).toEqual(['b:1', 'b:3', 'c:2']);
    });

    it('does not throw when the addressee is unknown', async () => {
      const network = await makeNetwork();
      const a = await network.connect('a');
      expect(() => a.send([heartbeat('a', 'nobody', 1)])).not.toThrow();
      await network.settle();
    });

    it('a closed transport receives nothing and sends nothing', async () => {
      const network = await makeNetwork();
      const a = await network.connect('a');
      const b = await network.connect('b');
      let toA = 0;
      let toB = 0;
      a.onMessage(() => toA++);
      b.onMessage(() => toB++);
      b.close();
      a.send([heartbeat('a', 'b', 1)]);
      b.send([heartbeat('b', 'a', 2)]);
      await network.settle();
      expect([toA, toB]).toEqual([0, 0]);
    });

    it('drops messages in flight to a member that closes before they arrive', async () => {
      const network = await makeNetwork();
      const a = await network.connect('a');
      const b = await network.connect('b');
      let received = 0;
      b.onMessage(() => received++);
      a.send([heartbeat('a', 'b', 1)]);
      b.close();
      await network.settle();
      expect(received).toBe(0);
    });
  });
}
