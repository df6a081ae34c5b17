/**
 * An edge member (issue 13): an always-on member of a room with no WebRTC — on Node
 * (src/edge/node.ts), and written to run on edge runtimes too, so nothing here needs Node. It is a
 * tab's member in everything but its links: the same MemberHost (core, driver, KV, autopilot)
 * over the Storage it is given and the timers it is given, the same room session and cluster
 * handle, in this process (in-process.ts). It tells the room where it accepts raft WebSockets
 * (`endpoint`) and whether it wants to vote; tabs and Node members then dial it there instead of
 * trying WebRTC, and its host hands each upgraded socket to `acceptSocket`.
 *
 * Its member id starts with `e-`, so every member can tell an edge member apart, and lives in its
 * storage: started again on the same storage, it is the same member.
 */
import type { Cluster, ConnectOptions, Incarnation, LaunchConfig } from '../client/connect.js';
import { supervise } from '../client/connect.js';
import { hostTuning, joinInProcess, newMemberId, processRoom } from '../client/in-process.js';
import { MemberHost } from '../client/member-host.js';
import type { HostEnvironment } from '../client/member-host.js';
import { NO_MESH } from '../client/room-session.js';
import type { MemberId } from '../core/types.js';
import type { Scheduler } from '../runtime/scheduler.js';
import { isEndpoint } from '../signaling/protocol.js';
import { SOCKET_CLOSE } from '../transport/websocket/socket-channel.js';
import type { RaftSocket, RaftSocketConstructor } from '../transport/websocket/socket-channel.js';

/** Where an edge member keeps its id and its log. */
export interface EdgeStorage {
  /**
   * The member id this storage holds, or null for a new member. An id in `avoid` failed too
   * often to restart as itself (see `supervise`): the storage sets it aside and returns null.
   */
  memberId(avoid: ReadonlySet<MemberId>): Promise<MemberId | null>;
  /** Opens the member's storage (`existing`: it holds `memberId` already). */
  open: HostEnvironment['openStorage'];
}

export interface EdgeMemberOptions extends Pick<
  ConnectOptions,
  'tickMs' | 'timeoutMs' | 'votersTarget' | 'secret'
> {
  readonly room: string;
  readonly signalingUrl: string;
  /** The ws:// or wss:// URL where this member's host accepts raft WebSockets. */
  readonly endpoint: string;
  /** true: prefer this member as a voter (the default); false: it never votes. */
  readonly voter?: boolean;
  readonly storage: EdgeStorage;
  /** The member's timers; default the runtime's. */
  readonly scheduler?: Scheduler;
  /** For signaling, and for raft sockets to other edge members; default the runtime's. */
  readonly WebSocket?: RaftSocketConstructor;
}

/** An edge member: the cluster handle of a tab, and the door for raft WebSockets. */
export interface EdgeMember extends Cluster {
  /** The URL the room was told to dial. */
  readonly endpoint: string;
  /** A raft WebSocket the host upgraded: authenticated, then one more link of the member. */
  acceptSocket(socket: RaftSocket): void;
}

/**
 * Starts an edge member of `room` and joins the room; resolves with its handle. Rejects when its
 * storage cannot be opened or the signaling server refuses it (a wrong secret; a server that
 * predates endpoints refuses the hello).
 */
export async function startEdgeMember(options: EdgeMemberOptions): Promise<EdgeMember> {
  if (!isEndpoint(options.endpoint))
    throw new RangeError(`endpoint ${options.endpoint}: a ws:// or wss:// URL`);
  let current: MemberHost | null = null;
  const launch = async (avoid: ReadonlySet<MemberId>): Promise<Incarnation> => {
    const { memberHost, incarnation } = await launchEdgeMember(options, avoid);
    current = memberHost;
    void incarnation.whenStopped.then(() => {
      if (current === memberHost) current = null;
    });
    return incarnation;
  };
  const config: LaunchConfig = {
    room: options.room,
    signalingUrl: options.signalingUrl,
    options: options.secret ? { secret: options.secret } : {},
  };
  const cluster = supervise(config, await launch(new Set()), launch);
  return Object.assign(cluster, {
    endpoint: options.endpoint,
    acceptSocket(socket: RaftSocket): void {
      // Between two lives (a restart after a storage failure): the dialer tries again.
      if (current === null) return void socket.close(SOCKET_CLOSE.normal, 'restarting');
      current.acceptSocket(socket);
    },
  });
}

async function launchEdgeMember(
  options: EdgeMemberOptions,
  avoid: ReadonlySet<MemberId>,
): Promise<{ memberHost: MemberHost; incarnation: Incarnation }> {
  const { room, storage, WebSocket, scheduler } = options;
  let memberId = await storage.memberId(avoid);
  const existing = memberId !== null;
  memberId ??= newMemberId('e');
  const memberHost = new MemberHost({
    openStorage: storage.open,
    links: (mesh) => mesh,
    endpoint: options.endpoint,
    ...(scheduler === undefined ? {} : { scheduler }),
    ...(WebSocket === undefined ? {} : { WebSocket }),
  });
  const { hasLog } = await memberHost.start({ room, memberId, existing, ...hostTuning(options) });
  const incarnation = await joinInProcess(
    memberHost,
    processRoom(() => NO_MESH, WebSocket),
    {
      url: options.signalingUrl,
      room,
      memberId,
      started: { hasLog },
      endpoint: options.endpoint,
      voter: options.voter ?? true,
      ...(options.secret ? { secret: options.secret } : {}),
    },
  );
  return { memberHost, incarnation };
}
