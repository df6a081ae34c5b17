/**
 * The page side of the mesh lab, run in real Chromium: joins a room through the signaling server,
 * builds the WebRTC mesh on the page, and moves each raft channel into this tab's worker (or
 * bridges it through a MessagePort). Called from tests with `page.evaluate`.
 */
import { SignalingClient } from '../../src/signaling/client.js';
import {
  bridgeDataChannel,
  canTransferDataChannel,
} from '../../src/transport/webrtc/frame-channel.js';
import { meshSignaling } from '../../src/transport/webrtc/mesh-signaling.js';
import { PeerMesh } from '../../src/transport/webrtc/peer-mesh.js';
import type { PeerState } from '../../src/transport/webrtc/peer-mesh.js';
import type { FromWorker, ToWorker } from './mesh-worker.js';

export type BridgeMode = 'transfer' | 'port';

let worker: Worker | null = null;
let mesh: PeerMesh | null = null;
let client: SignalingClient | null = null;
let nextRequest = 0;
const waiting = new Map<number, (value: unknown) => void>();

function startWorker(message: ToWorker): Worker {
  const started = new Worker('/worker.js', { type: 'module' });
  started.onmessage = (event: MessageEvent<FromWorker>) => {
    waiting.get(event.data.id)?.(event.data.value);
    waiting.delete(event.data.id);
  };
  started.postMessage(message);
  return started;
}

function ask<T>(message: (id: number) => ToWorker): Promise<T> {
  const id = ++nextRequest;
  return new Promise<T>((resolve) => {
    waiting.set(id, resolve as (value: unknown) => void);
    worker!.postMessage(message(id));
  });
}

/** Joins `room` as `memberId`; rejects with the signaling error (AUTH_FAILED...) if refused. */
export async function join(options: {
  url: string;
  room: string;
  memberId: string;
  secret?: string;
  mode: BridgeMode;
}): Promise<{ bootstrapper: boolean }> {
  const { url, room, memberId, secret, mode } = options;
  client = await SignalingClient.connect({ url, room, memberId, ...(secret ? { secret } : {}) });
  worker = startWorker({ type: 'start', cluster: room, self: memberId, broadcast: false });
  const target = worker;
  mesh = new PeerMesh({
    signaling: meshSignaling(client),
    ...(secret ? { secret } : {}),
    onRaftChannel: (peer, gen, channel) => {
      if (mode === 'transfer') {
        target.postMessage({ type: 'channel', peer, gen, channel } satisfies ToWorker, [
          channel as unknown as Transferable,
        ]);
      } else {
        const { port1, port2 } = new MessageChannel();
        bridgeDataChannel(channel, port1);
        target.postMessage({ type: 'port', peer, gen, port: port2 } satisfies ToWorker, [port2]);
      }
    },
    onAuthenticated: (peer, gen) =>
      target.postMessage({ type: 'auth', peer, gen } satisfies ToWorker),
  });
  return { bootstrapper: client.bootstrapper };
}

/**
 * Starts a worker on the BroadcastChannel transport only: no signaling server at all. Resolves
 * once the worker listens (a frame sent to a channel nobody listens on yet is simply lost).
 */
export async function joinBroadcast(room: string, memberId: string): Promise<void> {
  worker = startWorker({ type: 'start', cluster: room, self: memberId, broadcast: true });
  await report();
}

export function restart(peer: string): void {
  mesh?.restart(peer);
}

export function peerStates(): Record<string, PeerState> {
  return mesh?.states() ?? {};
}

export function send(to: string, count: number, bytes = 0): Promise<boolean> {
  return ask((id) => ({ type: 'send', id, to, count, bytes }));
}

export function report(): Promise<{
  received: Record<string, number>;
  peers: string[];
  drops: Record<string, number>;
}> {
  return ask((id) => ({ type: 'report', id }));
}

export function setEcho(on: boolean): void {
  worker?.postMessage({ type: 'echo', on } satisfies ToWorker);
}

/** Framed round trips worker to worker through the mesh (the peer must echo), in ms. */
export function pingPong(to: string, rounds: number): Promise<number[]> {
  return ask((id) => ({ type: 'pingPong', id, to, rounds }));
}

/**
 * The baseline: a plain RTCDataChannel between this page and `peer`'s page, set up through the
 * same signaling server but outside the mesh (signals tagged `raw`, which the mesh ignores).
 * The smaller id offers; the other side answers and echoes every message.
 */
let raw: { pc: RTCPeerConnection; channel: RTCDataChannel } | null = null;

export function rawPrepare(peer: string): Promise<void> {
  const signaling = client!;
  const pc = new RTCPeerConnection({ iceServers: [] });
  const channel = pc.createDataChannel('raw', { negotiated: true, id: 0, ordered: true });
  channel.binaryType = 'arraybuffer';
  raw = { pc, channel };
  pc.onicecandidate = (event) => {
    if (event.candidate !== null)
      signaling.signal(peer, { raw: 'candidate', candidate: event.candidate.toJSON() } as never);
  };
  signaling.on('signal', (from, payload) => {
    const message = payload as { raw?: string; sdp?: string; candidate?: RTCIceCandidateInit };
    if (from !== peer || message.raw === undefined) return;
    void (async () => {
      if (message.raw === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp! });
        await pc.setLocalDescription(await pc.createAnswer());
        signaling.signal(peer, { raw: 'answer', sdp: pc.localDescription!.sdp } as never);
      } else if (message.raw === 'answer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp! });
      } else if (message.raw === 'candidate') {
        await pc.addIceCandidate(message.candidate!).catch(() => undefined);
      }
    })();
  });
  channel.onmessage = (event: MessageEvent<ArrayBuffer>) => {
    if (!answered)
      channel.send(event.data); // The echoing side.
    else answered();
  };
  if (client!.memberId < peer) {
    void pc.createOffer().then(async (offer) => {
      await pc.setLocalDescription(offer);
      signaling.signal(peer, { raw: 'offer', sdp: pc.localDescription!.sdp } as never);
    });
  }
  return new Promise((resolve) => {
    if (channel.readyState === 'open') resolve();
    else channel.addEventListener('open', () => resolve(), { once: true });
  });
}

/** The answer a round trip waits for, on either plain path. */
let answered: (() => void) | null = null;

/** Round trips of a 64-byte message, one at a time, in ms: `send` posts one; the echo answers. */
async function timedRoundTrips(rounds: number, send: () => void): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const done = new Promise<void>((resolve) => (answered = resolve));
    send();
    await done;
    times.push(performance.now() - started);
  }
  answered = null;
  return times;
}

/** Round trips on the plain channel. */
export function rawPingPong(rounds: number): Promise<number[]> {
  const { channel } = raw!;
  return timedRoundTrips(rounds, () => channel.send(new ArrayBuffer(64)));
}

/**
 * The same round trip on a BroadcastChannel, page to page (what tabs of one browser use): the
 * side that calls `broadcastPrepare(false)` echoes on the other channel of the pair.
 */
let broadcast: { ping: BroadcastChannel; pong: BroadcastChannel } | null = null;

export function broadcastPrepare(asker: boolean): void {
  broadcast?.ping.close();
  broadcast?.pong.close();
  const ping = new BroadcastChannel('bench-rtt-ping');
  const pong = new BroadcastChannel('bench-rtt-pong');
  broadcast = { ping, pong };
  if (asker) pong.onmessage = () => answered?.();
  else ping.onmessage = (event: MessageEvent<ArrayBuffer>) => pong.postMessage(event.data);
}

/** Round trips on BroadcastChannel. */
export function broadcastPingPong(rounds: number): Promise<number[]> {
  const { ping } = broadcast!;
  return timedRoundTrips(rounds, () => ping.postMessage(new ArrayBuffer(64)));
}

export function transferSupported(): boolean {
  return canTransferDataChannel();
}
