/**
 * The signaling Worker of workerd.ts with a stand-in edge member, bundled and run by real workerd
 * in edge-workerd.test.ts: it checks the Durable Object plumbing (EDGE_ROOMS, the in-process
 * signaling socket, timers and the waking alarm, a restart from storage, raft sockets routed to
 * the member) without the Raft member itself. The stand-in takes its id from its storage (a new
 * one the first time), counts its starts in its log's hard state (term + 1 per start: what
 * survives a restart shows), joins the room's signaling in process, counts ticks of the host's
 * scheduler, and echoes what a raft socket sends it.
 */
import { SignalingClient } from '../../../src/signaling/client.js';
import type { WebSocketConstructor } from '../../../src/signaling/client.js';
import worker, { SignalingRoom } from '../../../src/signaling/workerd.js';
import type { EdgeMemberRuntime, StartEdgeMember } from '../../../src/signaling/workerd-edge.js';

const TICK_MS = 50;

const startStandIn: StartEdgeMember = async (launch): Promise<EdgeMemberRuntime> => {
  const held = await launch.storage.memberId(new Set());
  const memberId = held ?? `e-standin${Math.floor(Math.random() * 1e6)}`;
  const { room } = launch;
  const { storage } = await launch.storage.open({ room, memberId, existing: held !== null });
  const { term, commit } = (await storage.load()).hardState;
  await storage.persist({
    hardState: { term: term + 1, vote: null, commit },
    snapshot: null,
    entries: [],
  });
  const client = await SignalingClient.connect({
    url: launch.signalingUrl,
    room,
    memberId,
    WebSocket: launch.WebSocket as WebSocketConstructor,
    hasLog: true,
    endpoint: launch.endpoint,
    voter: launch.voter,
    ...(launch.secret === undefined ? {} : { secret: launch.secret }),
  });
  let ticks = 0;
  let timer = launch.scheduler.setTimeout(function tick() {
    ticks++;
    timer = launch.scheduler.setTimeout(tick, TICK_MS);
  }, TICK_MS);
  return {
    acceptSocket(socket) {
      socket.addEventListener('message', (event) => socket.send(`echo:${String(event.data)}`));
    },
    status: async () => ({ memberId, term: term + 1, ticks, peers: client.peers() }),
    close: async () => {
      launch.scheduler.clearTimeout(timer);
      client.close();
    },
  };
};

SignalingRoom.startEdgeMember = startStandIn;

export default worker;
export { SignalingRoom };
