/**
 * BroadcastChannelTransport (Node's BroadcastChannel stands in for the browser's): the shared
 * transport conformance suite, then isolation by cluster and by addressee, hostile frames, and
 * the pair channels: frames leave the inboxes once both members hear each other on their pair.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import {
  BroadcastChannelTransport,
  channelName,
  pairChannelName,
} from '../../../src/transport/broadcast.js';
import { encodeFrame } from '../../../src/transport/codec.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const open: BroadcastChannelTransport[] = [];
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
let clusters = 0;

function connect(cluster: string, self: string, now?: () => number): BroadcastChannelTransport {
  const transport = new BroadcastChannelTransport({ cluster, self, ...(now ? { now } : {}) });
  open.push(transport);
  return transport;
}

afterEach(() => {
  for (const transport of open.splice(0)) transport.close();
});

runTransportConformance('BroadcastChannelTransport', async () => {
  const cluster = `conformance-${++clusters}`;
  return { connect: (id) => connect(cluster, id), settle };
});

describe('BroadcastChannelTransport', () => {
  it('never delivers to another cluster, even for the same member ids', async () => {
    const a = connect('room-x', 'a');
    const bHere = connect('room-x', 'b');
    const bElsewhere = connect('room-y', 'b');
    const here: Message[] = [];
    const elsewhere: Message[] = [];
    bHere.onMessage((m) => here.push(m));
    bElsewhere.onMessage((m) => elsewhere.push(m));
    a.send([appendMessage('a', 'b', 3)]);
    await settle();
    expect(here).toHaveLength(1);
    expect(elsewhere).toHaveLength(0);
  });

  it('drops and counts what a buggy or hostile tab posts on a member channel', async () => {
    const b = connect('room-h', 'b');
    let delivered = 0;
    b.onMessage(() => delivered++);
    const intruder = new BroadcastChannel(channelName('room-h', 'b'));
    intruder.postMessage('not bytes');
    intruder.postMessage(new Uint8Array([0xff, 0x00, 0x13]));
    intruder.postMessage(encodeFrame('room-other', appendMessage('a', 'b', 1)));
    intruder.postMessage(encodeFrame('room-h', appendMessage('a', 'c', 1)));
    intruder.postMessage(encodeFrame('room-h', appendMessage('a', 'b', 1)));
    await settle();
    intruder.close();
    expect(delivered).toBe(1);
    expect(b.drops()).toMatchObject({ notBytes: 1, wrongCluster: 1, wrongRecipient: 1 });
    expect(Object.values(b.drops()).reduce((sum, n) => sum + (n ?? 0), 0)).toBe(4);
  });

  it('keeps talking to many peers with a bounded set of channels', async () => {
    const a = connect('room-many', 'a');
    const peers = Array.from({ length: 70 }, (_, i) => connect('room-many', `p${i}`));
    const received = new Set<string>();
    for (const peer of peers) peer.onMessage((m) => received.add(m.to));
    for (let round = 0; round < 2; round++) {
      a.send(peers.map((_, i) => appendMessage('a', `p${i}`, 1)));
    }
    await settle();
    expect(received.size).toBe(70);
  });

  /** Counts what is posted on the channel `name` by anyone else. */
  function spy(name: string): { count: () => number; close: () => void } {
    const channel = new BroadcastChannel(name);
    let count = 0;
    channel.onmessage = () => count++;
    return { count: () => count, close: () => channel.close() };
  }

  it('talks on the pair channel alone once both hear each other there', async () => {
    const a = connect('room-pair', 'a');
    const b = connect('room-pair', 'b');
    const atB: Message[] = [];
    b.onMessage((m) => atB.push(m));
    a.onMessage(() => undefined);
    a.send([appendMessage('a', 'b', 1)]); // b holds no pair channel yet: the inbox carries it.
    await settle();
    b.send([appendMessage('b', 'a', 1)]);
    await settle();
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    b.send([appendMessage('b', 'a', 2)]);
    await settle();
    const inboxOfB = spy(channelName('room-pair', 'b'));
    a.send([appendMessage('a', 'b', 3)]);
    await settle();
    inboxOfB.close();
    expect(inboxOfB.count()).toBe(0);
    expect(atB.map((m) => m.term)).toContain(3);
  });

  it('delivers every frame once while two members move from the inboxes to their pair', async () => {
    const a = connect('room-once', 'a');
    const b = connect('room-once', 'b');
    const atA: number[] = [];
    const atB: number[] = [];
    a.onMessage((m) => atA.push(m.term));
    b.onMessage((m) => atB.push(m.term));
    for (let round = 1; round <= 5; round++) {
      a.send([1, 2, 3].map(() => appendMessage('a', 'b', round)));
      b.send([1, 2, 3].map(() => appendMessage('b', 'a', round)));
      await settle();
    }
    expect(atA).toHaveLength(15);
    expect(atB).toHaveLength(15);
  });

  /**
   * a and b talk until each has heard the other on their pair channel; then b's tab reloads and
   * its member comes back on new channels (`after`), recording the terms of what it hears.
   */
  async function pairedThenReloaded(room: string, now?: () => number) {
    const a = connect(room, 'a', now);
    const before = connect(room, 'b', now);
    before.onMessage(() => undefined);
    a.onMessage(() => undefined);
    for (let i = 0; i < 2; i++) {
      a.send([appendMessage('a', 'b', 1)]);
      await settle();
      before.send([appendMessage('b', 'a', 1)]);
      await settle();
    }
    before.close();
    const after = connect(room, 'b', now);
    const heard: number[] = [];
    after.onMessage((m) => heard.push(m.term));
    return { a, after, heard };
  }

  it('reaches a reloaded peer through its inbox once the pair falls quiet', async () => {
    let nowMs = 0;
    const { a, heard } = await pairedThenReloaded('room-reload', () => nowMs);
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    expect(heard).toEqual([]); // a heard b on the pair a moment ago: it posts there alone.
    nowMs += 1_000;
    a.send([appendMessage('a', 'b', 3)]);
    await settle();
    expect(heard).toEqual([3]);
    a.send([appendMessage('a', 'b', 4)]); // b holds the pair channel now: it hears both ways.
    await settle();
    expect(heard).toContain(4);
  });

  it('reaches at once a reloaded peer that opened its pair channels with the tabs it knows', async () => {
    const { a, after, heard } = await pairedThenReloaded('room-listen');
    after.listenTo(['a', 'b']); // Itself among them, as a lock query may list it: skipped.
    await settle();
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    expect(heard).toEqual([2]);
  });

  it('drops and counts a frame on a pair channel from someone not of the pair', async () => {
    const b = connect('room-pair-h', 'b');
    let delivered = 0;
    b.onMessage(() => delivered++);
    b.send([appendMessage('b', 'a', 1)]); // b now listens on its pair channel with a.
    const intruder = new BroadcastChannel(pairChannelName('room-pair-h', 'a', 'b'));
    intruder.postMessage(encodeFrame('room-pair-h', appendMessage('c', 'b', 1)));
    intruder.postMessage(encodeFrame('room-pair-h', appendMessage('a', 'b', 1)));
    await settle();
    intruder.close();
    expect(delivered).toBe(1);
    expect(b.drops()).toMatchObject({ wrongPair: 1 });
  });
});
