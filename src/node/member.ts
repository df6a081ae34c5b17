/**
 * A member that runs in Node (issue 11): a server-side replica, a CLI, a CI job. It joins a room
 * as a tab does — the same signaling link, WebRTC mesh, autopilot and bootstrap rules
 * (room-session.ts), the same MemberHost and cluster handle (connect.ts's `supervise`) — with
 * three differences: its log is in files (FileStorage) in a data directory that remembers its
 * member id; RTCPeerConnection comes from `@roamhq/wrtc`; and the host runs in this process (no
 * worker), reached through comlink over an in-process MessageChannel like a tab's worker, so the
 * handle is exactly a tab's.
 *
 * A Node member never starts a cluster on its own with no signaling server: only tabs of one
 * browser can arbitrate that among themselves (Web Locks). Online, the server may name it the
 * room's bootstrapper like any tab.
 */
import { rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { expose, releaseProxy, wrap } from 'comlink';
import WebSocket from 'ws';
import type { MemberId } from '../core/types.js';
import { supervise } from '../client/connect.js';
import type { Cluster, ConnectOptions, Incarnation, LaunchConfig } from '../client/connect.js';
import { MemberHost } from '../client/member-host.js';
import type { HostEnvironment } from '../client/member-host.js';
import { joinRoom } from '../client/room-session.js';
import type { RoomPlatform } from '../client/room-session.js';
import type { WebSocketConstructor } from '../signaling/client.js';
import { FileStorage } from '../storage/file.js';
import type { FileStorageOptions } from '../storage/file.js';
import { PeerMesh } from '../transport/webrtc/peer-mesh.js';
import type { RTCPeerConnectionConstructor } from '../transport/webrtc/peer-mesh.js';
import { loadRTCPeerConnection } from './webrtc.js';

export interface NodeMemberOptions extends Pick<
  ConnectOptions,
  'tickMs' | 'timeoutMs' | 'votersTarget' | 'rtcConfiguration'
> {
  /** The room to join. Default 'demo'. */
  readonly room?: string;
  /** The signaling server. Default `ws://127.0.0.1:8787`. */
  readonly signalingUrl?: string;
  /** The room secret, if the room has one. */
  readonly secret?: string;
  /**
   * Where this member keeps its log and identity; one member per directory, locked while it
   * runs. Default `~/.webraft/<room>`. Start again from the same directory and it comes back as
   * the same member.
   */
  readonly dataDir?: string;
  readonly storage?: FileStorageOptions;
  /** Default: the platform's, else `@roamhq/wrtc`'s (WebRtcUnavailableError when neither). */
  readonly RTCPeerConnection?: RTCPeerConnectionConstructor;
  /** Default: the platform's WebSocket, else `ws`'s (Node 20 has none). */
  readonly WebSocket?: WebSocketConstructor;
}

/** The data directory a member of `room` uses when none is given. */
export function defaultDataDir(room: string): string {
  return join(homedir(), '.webraft', room);
}

/**
 * Starts a member of `room` in this process and joins the room; resolves with the same handle
 * as `connect()` in a tab (kv, subscribe, status, close). Rejects with StorageLockedError when
 * another process runs the data directory, StorageCorruptError when its log is damaged, and
 * WebRtcUnavailableError without WebRTC.
 */
export async function startNodeMember(options: NodeMemberOptions = {}): Promise<Cluster> {
  const room = options.room ?? 'demo';
  const resolved: ResolvedNodeMember = {
    room,
    signalingUrl: options.signalingUrl ?? 'ws://127.0.0.1:8787',
    dataDir: resolve(options.dataDir ?? defaultDataDir(room)),
    RTCPeerConnection: options.RTCPeerConnection ?? loadRTCPeerConnection(),
    WebSocket: options.WebSocket ?? globalThis.WebSocket ?? WebSocket,
    options,
  };
  const config: LaunchConfig = {
    room,
    signalingUrl: resolved.signalingUrl,
    options: options.secret ? { secret: options.secret } : {},
  };
  const launch = (avoid: ReadonlySet<MemberId>): Promise<Incarnation> =>
    launchNodeMember(resolved, avoid);
  return supervise(config, await launch(new Set()), launch);
}

interface ResolvedNodeMember {
  readonly room: string;
  readonly signalingUrl: string;
  readonly dataDir: string;
  readonly RTCPeerConnection: RTCPeerConnectionConstructor;
  readonly WebSocket: WebSocketConstructor;
  readonly options: NodeMemberOptions;
}

/**
 * One life of the member: the data directory's member (or a new one), its host, and its room.
 * `avoid` holds ids that failed too often to restart as themselves (see `supervise`): their
 * directory is set aside, never reused, and a new member starts in its place.
 */
async function launchNodeMember(
  member: ResolvedNodeMember,
  avoid: ReadonlySet<MemberId>,
): Promise<Incarnation> {
  const { room, dataDir, options } = member;
  let memberId = await FileStorage.memberIdIn(dataDir);
  if (memberId !== null && avoid.has(memberId)) {
    await rename(dataDir, `${dataDir}.replaced-${Date.now()}`);
    memberId = null;
  }
  const existing = memberId !== null;
  memberId ??= newMemberId();
  const memberHost = new MemberHost(fileHost(dataDir, options.storage));
  // Started directly, not through comlink, so its errors keep their classes.
  const { hasLog } = await memberHost.start({
    room,
    memberId,
    existing,
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    ...(options.timeoutMs === undefined ? {} : { writeTimeoutMs: options.timeoutMs }),
    ...(options.votersTarget === undefined ? {} : { votersTarget: options.votersTarget }),
  });
  const ports = new MessageChannel();
  expose(memberHost, ports.port1);
  const host = wrap<MemberHost>(ports.port2);
  const closePorts = (): void => {
    host[releaseProxy]();
    ports.port1.close();
    ports.port2.close();
  };
  let session;
  try {
    session = await joinRoom(host, nodeRoom(memberHost, member), {
      url: member.signalingUrl,
      room,
      memberId,
      started: { hasLog },
      ...(options.secret ? { secret: options.secret } : {}),
    });
  } catch (error) {
    await memberHost.leave().catch(() => undefined);
    closePorts();
    throw error;
  }
  let markStopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((resolve) => (markStopped = resolve));
  let stopped: Promise<void> | null = null;
  const id = memberId;
  return {
    memberId: id,
    host,
    mesh: session.mesh,
    signaling: session.signaling,
    lane: session.lane,
    persistence: { answer: 'unsupported' },
    whenStopped,
    stop: (leave) =>
      (stopped ??= (async () => {
        markStopped();
        await session.stop(leave);
        closePorts();
      })()),
  };
}

/** A host whose member keeps its log in `dataDir` and reaches peers over the mesh alone. */
function fileHost(dataDir: string, storage: FileStorageOptions = {}): HostEnvironment {
  return {
    async openStorage({ memberId, existing }) {
      const files = existing
        ? await FileStorage.open(dataDir, { ...storage, expectedMemberId: memberId })
        : await FileStorage.create(dataDir, memberId, storage);
      return { storage: files, name: dataDir };
    },
    links: (mesh) => mesh,
  };
}

/** A process in a room: its channels go straight to its host, no other members run beside it. */
function nodeRoom(memberHost: MemberHost, member: ResolvedNodeMember): RoomPlatform {
  const { secret, rtcConfiguration } = member.options;
  return {
    localMembers: async () => [],
    arbitrateBootstrap: async (_room, _self, by, bootstrap) =>
      by === 'server' ? bootstrap() : false,
    keepHouse: async () => undefined,
    startMesh: (signaling) =>
      new PeerMesh({
        signaling,
        RTCPeerConnection: member.RTCPeerConnection,
        ...(secret ? { secret } : {}),
        ...(rtcConfiguration === undefined ? {} : { rtcConfiguration }),
        onRaftChannel: (peer, gen, channel) => memberHost.offerChannel(peer, gen, channel),
        onAuthenticated: (peer, gen) => memberHost.authenticated(peer, gen),
      }),
    WebSocket: member.WebSocket,
  };
}

/** A new member id; `n-` tells a Node member from a tab (`m-`) in status and logs. */
function newMemberId(): MemberId {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `n-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
