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
import { resolve } from 'node:path';
import WebSocket from 'ws';
import type { MemberId } from '../core/types.js';
import { supervise } from '../client/connect.js';
import type { Cluster, ConnectOptions, Incarnation, LaunchConfig } from '../client/connect.js';
import { hostTuning, joinInProcess, newMemberId, processRoom } from '../client/in-process.js';
import { MemberHost } from '../client/member-host.js';
import type { WebSocketConstructor } from '../signaling/client.js';
import type { FileStorageOptions } from '../storage/file.js';
import type { RaftSocketConstructor } from '../transport/websocket/socket-channel.js';
import { PeerMesh } from '../transport/webrtc/peer-mesh.js';
import type { RTCPeerConnectionConstructor } from '../transport/webrtc/peer-mesh.js';
import { dataDirMember, defaultDataDir, fileStorageOpener } from './file-host.js';
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

export { defaultDataDir } from './file-host.js';

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
 * `avoid` holds ids that failed too often to restart as themselves (see `supervise`).
 */
async function launchNodeMember(
  member: ResolvedNodeMember,
  avoid: ReadonlySet<MemberId>,
): Promise<Incarnation> {
  const { room, dataDir, options } = member;
  let memberId = await dataDirMember(dataDir, avoid);
  const existing = memberId !== null;
  memberId ??= newMemberId('n');
  const memberHost = new MemberHost({
    openStorage: fileStorageOpener(dataDir, options.storage),
    links: (mesh) => mesh,
    // Edge members in the room are dialed over raft WebSockets: the platform's WebSocket and
    // `ws`'s send binary too, which the signaling client's narrower type does not promise.
    WebSocket: member.WebSocket as unknown as RaftSocketConstructor,
  });
  // Started directly, not through comlink, so its errors keep their classes.
  const { hasLog } = await memberHost.start({ room, memberId, existing, ...hostTuning(options) });
  const { secret, rtcConfiguration } = options;
  const platform = processRoom(
    (signaling) =>
      new PeerMesh({
        signaling,
        RTCPeerConnection: member.RTCPeerConnection,
        ...(secret ? { secret } : {}),
        ...(rtcConfiguration === undefined ? {} : { rtcConfiguration }),
        onRaftChannel: (peer, gen, channel) => memberHost.offerChannel(peer, gen, channel),
        onAuthenticated: (peer, gen) => memberHost.authenticated(peer, gen),
      }),
    member.WebSocket,
  );
  return joinInProcess(memberHost, platform, {
    url: member.signalingUrl,
    room,
    memberId,
    started: { hasLog },
    ...(secret ? { secret } : {}),
  });
}
