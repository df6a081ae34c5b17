/**
 * The page side of the mesh lab, run in real Chromium: joins a room through the signaling server,
 * builds the WebRTC mesh on the page, and moves each raft channel into this tab's worker (or
 * bridges it through a MessagePort). Called from tests with `page.evaluate`.
 */
import { SignalingClient } from '../../src/signaling/client.js';
import { bridgeDataChannel } from '../../src/transport/webrtc/frame-channel.js';
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
