/**
 * A member's life in its room, the same for a tab (connect.ts) and a Node process (src/node):
 * the signaling link, kept up across server restarts; the WebRTC mesh over it; who is in the room,
 * told to the member's autopilot; the bootstrap arbitration (decision 6); members that say they
 * leave for good; and the KV lane to the member's host. What differs by platform — how the mesh
 * hands channels to the member, which arbiter may start a cluster, what the platform remembers
 * between runs — comes in a `RoomPlatform`.
 */
import { transfer } from 'comlink';
import type { Remote } from 'comlink';
import type { MemberId } from '../core/types.js';
import { MemberStoppedError } from '../runtime/errors.js';
import type { WebSocketConstructor } from '../signaling/client.js';
import type { PeerInfo } from '../signaling/protocol.js';
import { meshSignaling } from '../transport/webrtc/mesh-signaling.js';
import type { MeshSignaling, PeerState } from '../transport/webrtc/peer-mesh.js';
import { KvLaneClient } from './kv-lane.js';
import type { HostStatus, MemberHost } from './member-host.js';
import { RoomLink } from './room-link.js';

/** Who decides that this member may start the room's cluster. */
export type BootstrapArbiter = 'server' | 'offline';

export interface RoomPlatform {
  /** Members this machine runs in the room that need no signaling to reach (a browser's tabs). */
  localMembers(room: string): Promise<MemberId[]>;
  /**
   * Runs `bootstrap` if arbiter `by` lets this member start the room's cluster here; returns
   * what it returned, or false if it did not run.
   */
  arbitrateBootstrap(
    room: string,
    self: MemberId,
    by: BootstrapArbiter,
    bootstrap: () => Promise<boolean>,
  ): Promise<boolean>;
  /** Every few seconds, with the member's status (null when it did not answer). */
  keepHouse(room: string, self: MemberId, status: HostStatus | null): Promise<void>;
  /**
   * Builds the WebRTC mesh over `signaling`, handing each raft channel to the member (a member
   * with no WebRTC, an edge member, builds none: `NO_MESH`).
   */
  startMesh(signaling: MeshSignaling): MeshLinks;
  /** A WebSocket constructor where the runtime has no global one (Node 20). */
  readonly WebSocket?: WebSocketConstructor;
}

/**
 * How this member reaches a peer: the state of its WebRTC link, or 'local' for a tab of this
 * browser, reached over BroadcastChannel with no WebRTC connection at all.
 */
export type PeerLinkState = PeerState | 'local';

/** What the session needs of the mesh once built: its peers' states, and its end. */
export interface MeshLinks {
  states(): Record<MemberId, PeerLinkState>;
  close(): void;
}

/** The mesh of a member that has no WebRTC: peers reach it over raft WebSockets alone. */
export const NO_MESH: MeshLinks = { states: () => ({}), close: () => undefined };

export interface RoomSessionOptions {
  readonly url: string;
  readonly room: string;
  readonly memberId: MemberId;
  readonly secret?: string;
  /** Where this member accepts raft WebSockets, and its wish to vote, told to the room. */
  readonly endpoint?: string;
  readonly voter?: boolean;
  /** Whether the member belongs to a cluster; set here once it does (it then never bootstraps). */
  readonly started: { hasLog: boolean };
}

export interface RoomSession {
  readonly signaling: RoomLink;
  readonly mesh: MeshLinks;
  readonly lane: KvLaneClient;
  /**
   * Stops the member (handing leadership over first) and its links to the room, once; `leave`
   * first tells the room it leaves for good, so the leader removes it at once.
   */
  stop(leave: boolean): Promise<void>;
}

/** How often a member marks itself active and the leader's platform forgets removed members. */
const HOUSEKEEPING_MS = 5000;
/** How long the signaling server must stay out of reach before tabs start a cluster offline. */
const OFFLINE_BOOTSTRAP_AFTER_MS = 2000;
/** How often a member looks for the members of its room on this machine. */
const PRESENCE_MS = 1000;

/** Joins the room for the member `host` runs, which has started. */
export async function joinRoom(
  host: Remote<MemberHost>,
  platform: RoomPlatform,
  { url, room, memberId, secret, started, endpoint, voter }: RoomSessionOptions,
): Promise<RoomSession> {
  // With no signaling server this joins offline: tabs of this browser still meet over
  // BroadcastChannel, and the link keeps trying the server. A refusal (wrong secret) throws.
  const signaling = await RoomLink.join({
    url,
    room,
    memberId,
    hasLog: () => started.hasLog,
    ...(secret ? { secret } : {}),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(voter === undefined ? {} : { voter }),
    ...(platform.WebSocket === undefined ? {} : { WebSocket: platform.WebSocket }),
  });
  // One look at the Web Locks serves every caller that asks while it is under way: a join and
  // its announce, or each peer already in the room when this member arrives.
  let localLook: Promise<MemberId[]> | null = null;
  const localMembers = (): Promise<MemberId[]> =>
    (localLook ??= platform.localMembers(room).finally(() => (localLook = null)));
  // Members with an endpoint are dialed over WebSocket by the member itself (member-host.ts).
  // Tabs of this browser are not dialed at all: frames to them go over BroadcastChannel anyway
  // (fallback.ts), and in a room of 25 tabs the 300 idle WebRTC connections took 0.1–0.2 cores.
  const webrtc = platform.startMesh(
    meshSignaling(
      signaling,
      (peer) => signaling.peerInfo(peer).endpoint !== undefined,
      (peer) => localMembers().then((local) => local.includes(peer)),
    ),
  );
  let localPeers: readonly MemberId[] = [];
  const mesh: MeshLinks = {
    // A tab dialed all the same (it looked before the other's lock showed) shows its link.
    states: () => ({
      ...Object.fromEntries(localPeers.map((peer) => [peer, 'local' as const])),
      ...webrtc.states(),
    }),
    close: () => webrtc.close(),
  };
  const announce = async (): Promise<void> => {
    const local = await localMembers().catch(() => []);
    localPeers = local.filter((peer) => peer !== memberId);
    // The host is gone once the cluster is closed: nothing to tell it then.
    const peers = signaling.peers();
    const info = peers.map((peer) => signaling.peerInfo(peer)).filter((peer) => hasInfo(peer));
    await host.setRoomMembers([memberId, ...peers, ...local], local, info).catch(() => undefined);
  };
  signaling.on('peer-joined', () => void announce());
  signaling.on('peer-left', () => void announce());
  signaling.on('reconnected', () => void announce());
  await announce();
  // A member leaving on purpose says so, so the leader removes it now, not after the grace period.
  signaling.on('signal', (from, payload) => {
    if (isLeaving(payload)) void host.memberLeft(from);
  });
  const bootstrap = arbiter(host, platform, room, memberId, started);
  signaling.on('bootstrap', () => void bootstrap('server').catch(() => undefined));
  if (signaling.bootstrapper) await bootstrap('server');
  const offlineCheck = setTimeout(() => {
    // Only a server that stayed out of reach: a slow or restarting one must not be outrun by a
    // member that starts a cluster of its own.
    if (signaling.unreachable) void bootstrap('offline').catch(() => undefined);
  }, OFFLINE_BOOTSTRAP_AFTER_MS);
  const presence = setInterval(() => void announce(), PRESENCE_MS);
  const housekeeping = setInterval(
    () => void keepHouse(host, platform, room, memberId, started),
    HOUSEKEEPING_MS,
  );
  const lanePorts = new MessageChannel();
  await host.openLane(transfer(lanePorts.port2, [lanePorts.port2]));
  const lane = new KvLaneClient(lanePorts.port1);
  let stopped: Promise<void> | null = null;
  const stopAll = async (leave: boolean): Promise<void> => {
    clearTimeout(offlineCheck);
    clearInterval(presence);
    clearInterval(housekeeping);
    if (leave) for (const peer of signaling.peers()) signaling.signal(peer, LEAVING);
    await host.leave().catch(() => undefined);
    lane.close(new MemberStoppedError(`member ${memberId} stopped`));
    mesh.close();
    signaling.close();
  };
  return { signaling, mesh, lane, stop: (leave) => (stopped ??= stopAll(leave)) };
}

/**
 * Starts the cluster from this member when an arbiter names it (decision 6): the signaling server
 * for a room (at once, or after its restart grace), or — with no server — what the platform
 * allows (tabs of one browser take turns under a Web Lock). A member that has a log never does.
 */
function arbiter(
  host: Remote<MemberHost>,
  platform: RoomPlatform,
  room: string,
  self: MemberId,
  started: { hasLog: boolean },
): (by: BootstrapArbiter) => Promise<void> {
  return async (by) => {
    if (started.hasLog) return;
    const bootstrap = (): Promise<boolean> => host.bootstrap();
    if (await platform.arbitrateBootstrap(room, self, by, bootstrap)) started.hasLog = true;
  };
}

/** Also notes when this member joined a cluster: it says so when it rejoins the server. */
async function keepHouse(
  host: Remote<MemberHost>,
  platform: RoomPlatform,
  room: string,
  memberId: MemberId,
  belongs: { hasLog: boolean },
): Promise<void> {
  const status = await host.status().catch(() => null);
  if (status !== null && [...status.voters, ...status.learners].includes(memberId)) {
    belongs.hasLog = true;
  }
  await platform.keepHouse(room, memberId, status);
}

/** Whether a peer said more than its id (only those cross to the member's host). */
const hasInfo = (peer: PeerInfo): boolean =>
  peer.endpoint !== undefined || peer.voter !== undefined;

/** The signal a member sends to the room when it leaves on purpose (not a WebRTC signal). */
const LEAVING = { webraft: 'leaving' } as const;

function isLeaving(payload: unknown): boolean {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    (payload as { webraft?: unknown }).webraft === LEAVING.webraft
  );
}
