/**
 * BroadcastChannelTransport (Node's BroadcastChannel stands in for the browser's): the shared
 * transport conformance suite, then isolation by cluster and by addressee, and hostile frames.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { BroadcastChannelTransport, channelName } from '../../../src/transport/broadcast.js';
import { encodeFrame } from '../../../src/transport/codec.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const open: BroadcastChannelTransport[] = [];
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
let clusters = 0;

function connect(cluster: string, self: string): BroadcastChannelTransport {
  const transport = new BroadcastChannelTransport({ cluster, self });
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
});
