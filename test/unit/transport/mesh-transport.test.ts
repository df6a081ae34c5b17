/**
 * MeshTransport over MessagePort bridges (Node's MessageChannel stands in for the page's ports):
 * the transport conformance suite, then sender authentication per channel and back-pressure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendRequest, Message } from '../../../src/core/messages.js';
import { encodeFrame } from '../../../src/transport/codec.js';
import type { FrameChannel } from '../../../src/transport/webrtc/frame-channel.js';
import { portFrames } from '../../../src/transport/webrtc/frame-channel.js';
import { MeshTransport } from '../../../src/transport/webrtc/mesh-transport.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
const ports: MessagePort[] = [];

afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

/** A full mesh over MessageChannels: each new member gets a port pair with every other. */
function portMesh(cluster = 'room') {
  const members = new Map<string, MeshTransport>();
  return {
    connect(id: string): MeshTransport {
      const transport = new MeshTransport({ cluster, self: id });
      for (const [other, peer] of members) {
        const { port1, port2 } = new MessageChannel();
        ports.push(port1, port2);
        transport.attach(other, portFrames(port1));
        peer.attach(id, portFrames(port2));
      }
      members.set(id, transport);
      return transport;
    },
  };
}

runTransportConformance('MeshTransport over ports', async () => {
  const mesh = portMesh();
  return { connect: (id) => mesh.connect(id), settle };
});

/** A channel we drive by hand: what was sent, a settable buffer, and its handlers. */
function manualChannel() {
  const sent: Uint8Array[] = [];
  let frameHandler: (frame: Uint8Array | null) => void = () => undefined;
  let drainHandler: () => void = () => undefined;
  const channel: FrameChannel & { buffered: number } = {
    buffered: 0,
    send: (frame) => sent.push(frame),
    get bufferedAmount() {
      return channel.buffered;
    },
    onFrame: (handler) => (frameHandler = handler),
    onDrain: (handler) => (drainHandler = handler),
    onClose: () => undefined,
    close: () => undefined,
  };
  return {
    channel,
    sent,
    deliver: (f: Uint8Array | null) => frameHandler(f),
    drain: () => drainHandler(),
  };
}

describe('MeshTransport', () => {
  it('drops a frame whose sender is not the peer its channel belongs to', () => {
    const transport = new MeshTransport({ cluster: 'room', self: 'b' });
    const fromA = manualChannel();
    transport.attach('a', fromA.channel);
    const got: Message[] = [];
    transport.onMessage((m) => got.push(m));
    fromA.deliver(encodeFrame('room', appendMessage('a', 'b', 1)));
    fromA.deliver(encodeFrame('room', appendMessage('c', 'b', 1)));
    fromA.deliver(null);
    expect(got).toHaveLength(1);
    expect(transport.drops()).toMatchObject({ spoofedSender: 1, notBytes: 1 });
  });

  it('queues while the channel buffer is full, sends on drain, and drops past the bound', () => {
    const transport = new MeshTransport({ cluster: 'room', self: 'a' });
    const toB = manualChannel();
    transport.attach('b', toB.channel);
    toB.channel.buffered = 10 * 1024 * 1024;
    const frameOf = (bytes: number): AppendRequest => ({
      ...(appendMessage('a', 'b', 1) as AppendRequest),
      entries: [{ index: 5, term: 1, kind: 'normal', data: new Uint8Array(bytes) }],
    });
    for (let i = 0; i < 25; i++) transport.send([frameOf(200 * 1024)]);
    expect(toB.sent).toHaveLength(0);
    expect(transport.drops()).toMatchObject({ queueFull: 5 });
    toB.channel.buffered = 0;
    toB.drain();
    expect(toB.sent).toHaveLength(20);
    transport.send([frameOf(300 * 1024)]);
    transport.send([appendMessage('a', 'nobody', 1)]);
    expect(transport.drops()).toMatchObject({ frameTooLarge: 1, noChannel: 1 });
  });

  it('counts a send that throws (a channel closing under it) instead of throwing', () => {
    const transport = new MeshTransport({ cluster: 'room', self: 'a' });
    const toB = manualChannel();
    toB.channel.send = () => {
      throw new Error('InvalidStateError: RTCDataChannel.readyState is not open');
    };
    transport.attach('b', toB.channel);
    expect(() => transport.send([appendMessage('a', 'b', 1)])).not.toThrow();
    expect(transport.drops()).toMatchObject({ sendFailed: 1 });
  });

  it('a reattached peer uses its new channel only', async () => {
    const transport = new MeshTransport({ cluster: 'room', self: 'a' });
    const first = manualChannel();
    const second = manualChannel();
    transport.attach('b', first.channel);
    transport.attach('b', second.channel);
    transport.send([appendMessage('a', 'b', 1)]);
    expect([first.sent.length, second.sent.length]).toEqual([0, 1]);
    expect(transport.peers()).toEqual(['b']);
  });

  it('ignores an offered channel until its attempt is authenticated, and only that attempt', () => {
    const transport = new MeshTransport({ cluster: 'room', self: 'b' });
    const got: Message[] = [];
    transport.onMessage((m) => got.push(m));
    const old = manualChannel();
    const current = manualChannel();
    transport.offer('a', 'gen-1', old.channel);
    transport.offer('a', 'gen-2', current.channel);
    current.deliver(encodeFrame('room', appendMessage('a', 'b', 1)));
    transport.authenticated('a', 'gen-1'); // A stale attempt: nothing happens.
    expect(transport.peers()).toEqual([]);
    transport.authenticated('a', 'gen-2');
    current.deliver(encodeFrame('room', appendMessage('a', 'b', 2)));
    expect(got.map((m) => m.term)).toEqual([2]);
    expect(transport.drops()).toMatchObject({ unauthenticated: 1 });
  });
});
