/**
 * The edge member module (src/edge/member.ts) as the workerd host runs it: what
 * `SignalingRoom.startEdgeMember` is in the shipped Worker. The host (workerd-edge.ts) gives it
 * the object's storage, workerd's timers, the in-process signaling socket and the room's
 * endpoint; this adapts the member's handle to what the host asks of it.
 */
import { startEdgeMember } from '../edge/member.js';
import type { RaftSocketConstructor } from '../transport/websocket/socket-channel.js';
import type { EdgeMemberRuntime, StartEdgeMember } from './workerd-edge.js';

/** Starts the room's edge member inside its signaling Durable Object. */
export const startWorkerdEdgeMember: StartEdgeMember = async (launch) => {
  const edge = await startEdgeMember({
    room: launch.room,
    signalingUrl: launch.signalingUrl,
    endpoint: launch.endpoint,
    voter: launch.voter,
    storage: launch.storage,
    scheduler: launch.scheduler,
    // Opens the in-process pair for the signaling URL: a RaftSocket for the raft URLs it dials.
    WebSocket: launch.WebSocket as unknown as RaftSocketConstructor,
    ...(launch.secret === undefined ? {} : { secret: launch.secret }),
  });
  const runtime: EdgeMemberRuntime = {
    acceptSocket: (socket) => edge.acceptSocket(socket),
    status: () => edge.status(),
    close: () => edge.close(),
  };
  return runtime;
};
