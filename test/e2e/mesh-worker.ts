/**
 * The worker side of the mesh lab: a MeshTransport fed with the channels the page moves in (or
 * ports bridged to them), counting what arrives per peer; a BroadcastChannelTransport for the
 * serverless path; and an echo for the round-trip benchmark.
 */
import type { Message } from '../../src/core/messages.js';
import type { Transport } from '../../src/transport/transport.js';
import { BroadcastChannelTransport } from '../../src/transport/broadcast.js';
import { dataChannelFrames, portFrames } from '../../src/transport/webrtc/frame-channel.js';
import { MeshTransport } from '../../src/transport/webrtc/mesh-transport.js';

export type ToWorker =
  | { type: 'start'; cluster: string; self: string; broadcast: boolean }
  | { type: 'channel'; peer: string; gen: string; channel: RTCDataChannel }
  | { type: 'port'; peer: string; gen: string; port: MessagePort }
  | { type: 'auth'; peer: string; gen: string }
  | { type: 'send'; id: number; to: string; count: number; bytes: number }
  | { type: 'report'; id: number }
  | { type: 'echo'; on: boolean }
  | { type: 'pingPong'; id: number; to: string; rounds: number };

export type FromWorker = { type: 'reply'; id: number; value: unknown };

let mesh: MeshTransport | null = null;
let transport: Transport | null = null;
let self = '';
let echo = false;
const received = new Map<string, number>();
let readSeq = 0;
/** The round trip waiting for its heartbeat answer (ping-pong benchmark). */
let answered: (() => void) | null = null;

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
};

function onRaft(message: Message): void {
  received.set(message.from, (received.get(message.from) ?? 0) + 1);
  if (message.type === 'heartbeatResponse') answered?.();
  if (echo && message.type === 'heartbeat') {
    transport?.send([
      {
        type: 'heartbeatResponse',
        from: self,
        to: message.from,
        term: message.term,
        readSeq: message.readSeq,
        sentTick: message.sentTick,
      },
    ]);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  switch (request.type) {
    case 'start':
      self = request.self;
      if (request.broadcast) {
        transport = new BroadcastChannelTransport({ cluster: request.cluster, self });
      } else {
        mesh = new MeshTransport({ cluster: request.cluster, self });
        transport = mesh;
      }
      transport.onMessage(onRaft);
      return;
    case 'channel':
      return mesh?.offer(request.peer, request.gen, dataChannelFrames(request.channel));
    case 'port':
      return mesh?.offer(request.peer, request.gen, portFrames(request.port));
    case 'auth':
      return mesh?.authenticated(request.peer, request.gen);
    case 'echo':
      echo = request.on;
      return;
    case 'send': {
      const messages: Message[] = [];
      for (let i = 0; i < request.count; i++) {
        messages.push(
          request.bytes > 0
            ? {
                type: 'append',
                from: self,
                to: request.to,
                term: 1,
                prevIndex: 0,
                prevTerm: 0,
                commit: 0,
                entries: [
                  { index: 1, term: 1, kind: 'normal', data: new Uint8Array(request.bytes) },
                ],
              }
            : {
                type: 'heartbeat',
                from: self,
                to: request.to,
                term: 1,
                commit: 0,
                readSeq: ++readSeq,
                sentTick: Math.round(performance.now() * 1000),
              },
        );
      }
      transport?.send(messages);
      scope.postMessage({ type: 'reply', id: request.id, value: true });
      return;
    }
    case 'pingPong':
      void pingPong(request.to, request.rounds).then((value) =>
        scope.postMessage({ type: 'reply', id: request.id, value }),
      );
      return;
    case 'report': {
      const drops =
        transport instanceof MeshTransport || transport instanceof BroadcastChannelTransport
          ? transport.drops()
          : {};
      const value = { received: Object.fromEntries(received), peers: mesh?.peers() ?? [], drops };
      scope.postMessage({ type: 'reply', id: request.id, value });
      return;
    }
  }
};

/** Round trips of one heartbeat frame to `to` and its answer, one at a time, in milliseconds. */
async function pingPong(to: string, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const done = new Promise<void>((resolve) => (answered = resolve));
    transport?.send([
      { type: 'heartbeat', from: self, to, term: 1, commit: 0, readSeq: round, sentTick: round },
    ]);
    await done;
    times.push(performance.now() - started);
  }
  answered = null;
  return times;
}
