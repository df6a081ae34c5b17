/**
 * The main-thread API (issue 7): `const cluster = await connect({ room })`. It picks this tab's
 * member id, joins the room on the signaling server, starts the member in a worker, builds the
 * WebRTC mesh on the page and moves each authenticated raft channel into the worker (or bridges
 * it where channels cannot move). Everything else is a typed, promise-based call to the worker.
 */
import { transfer, wrap } from 'comlink';
import type { Remote } from 'comlink';
import type { MemberId } from '../core/types.js';
import { MemberStoppedError } from '../runtime/errors.js';
import type { ReadConsistency } from '../runtime/member.js';
import type {
  JsonValue,
  KvCasResult,
  KvChange,
  KvDeleteResult,
  KvGetResult,
  KvPutResult,
  KvTxnCheck,
  KvTxnResult,
  KvTxnWrite,
} from '../state/kv-types.js';
import { requestPersistentStorage } from '../storage/indexeddb.js';
import type { PersistencePermission } from '../storage/indexeddb.js';
import { bridgeDataChannel, canTransferDataChannel } from '../transport/webrtc/frame-channel.js';
import { meshSignaling } from '../transport/webrtc/mesh-signaling.js';
import { PeerMesh } from '../transport/webrtc/peer-mesh.js';
import type { MeshSignaling, PeerState } from '../transport/webrtc/peer-mesh.js';
import type { VotersTarget } from './autopilot.js';
import {
  arbitrateBootstrap,
  claimIdentity,
  forgetRemovedIdentities,
  localMembers,
  markClusterHere,
  remember,
} from './identity.js';
import { KvLaneClient } from './kv-lane.js';
import { RoomLink } from './room-link.js';
import type { ClaimedIdentity } from './identity.js';
import type { HostStatus, LogLine, MemberHost } from './member-host.js';

export interface ConnectOptions {
  /** The room to join. Default 'demo'. */
  readonly room?: string;
  /** The signaling server. Default `ws://<this page's host>:8787`. */
  readonly signalingUrl?: string;
  /** The room secret, if the room has one. */
  readonly secret?: string;
  /** Default 50 ms. */
  readonly tickMs?: number;
  /** How long a write or read waits through an election before failing. Default 5 s. */
  readonly timeoutMs?: number;
  /** Voters the autopilot aims for: 1, 3 (default), 5 or 7. */
  readonly votersTarget?: VotersTarget;
  /**
   * ICE servers and the like for the peer connections. Default none: tabs on one machine or LAN
   * reach each other directly; across NATs, give STUN/TURN servers here.
   */
  readonly rtcConfiguration?: RTCConfiguration;
  /** The member's worker; default the one shipped with webraft. */
  readonly worker?: Worker;
}

/** The cluster as this tab sees it. */
export interface ClusterStatus extends HostStatus {
  readonly room: string;
  /**
   * Whether this tab reaches the signaling server. While it does not, only tabs of this browser
   * (BroadcastChannel) and peers already linked take part; the tab keeps trying.
   */
  readonly signaling: 'connected' | 'offline';
  /**
   * Whether this tab joined with a room secret. Without one, anyone who knows the room's name and
   * reaches its signaling server can join, read and write, and nothing authenticates the
   * signaling server to the peers (see SECURITY.md).
   */
  readonly roomSecret: boolean;
  /** The other members of the room and the state of this tab's connection to each. */
  readonly peers: readonly { readonly id: MemberId; readonly state: PeerState }[];
}

export interface ClusterKv {
  put(key: string, value: JsonValue): Promise<KvPutResult>;
  get(key: string, options?: { readonly consistency?: ReadConsistency }): Promise<KvGetResult>;
  delete(key: string): Promise<KvDeleteResult>;
  cas(key: string, expected: JsonValue | null, next: JsonValue): Promise<KvCasResult>;
  txn(request: {
    readonly checks: readonly KvTxnCheck[];
    readonly writes: readonly KvTxnWrite[];
  }): Promise<KvTxnResult>;
  /** Every key this member has applied (a local read). */
  entries(): Promise<{ key: string; value: JsonValue; version: number }[]>;
}

export interface Cluster {
  readonly id: MemberId;
  readonly room: string;
  readonly kv: ClusterKv;
  /** Calls `listener` with each committed change applied here; returns the unsubscribe. */
  subscribe(listener: (changes: readonly KvChange[]) => void): () => void;
  status(): Promise<ClusterStatus>;
  /** Calls `listener` with the status every `intervalMs` (default 250); returns the unsubscribe. */
  onStatus(listener: (status: ClusterStatus) => void, intervalMs?: number): () => void;
  /** The last entries of this member's log. */
  recentLog(count?: number): Promise<LogLine[]>;
  /** Fault injection: disconnect this tab from the cluster (true) or reconnect it (false). */
  setDisconnected(disconnected: boolean): Promise<void>;
  /**
   * Stops this tab's member, handing leadership over first when leading. By default it also
   * tells the room it is leaving for good, so the leader removes it at once; with
   * `{ leave: false }` (a page being hidden or reloaded) it is removed only if it does not come
   * back within the grace period, so a reload causes no membership churn.
   */
  close(options?: { readonly leave?: boolean }): Promise<void>;
}

export async function connect(options: ConnectOptions = {}): Promise<Cluster> {
  const room = options.room ?? 'demo';
  const signalingUrl = options.signalingUrl ?? `ws://${location.hostname || '127.0.0.1'}:8787`;
  const worker =
    options.worker ??
    new Worker(new URL('../../worker/member.worker.ts', import.meta.url), { type: 'module' });
  const host = wrap<MemberHost>(worker);
  let claimed: ClaimedIdentity | null = null;
  try {
    return await start(host, worker, room, signalingUrl, options, (identity) => {
      claimed = identity;
    });
  } catch (error) {
    // Refused by the signaling server, no storage, ...: leave nothing running behind.
    worker.terminate();
    (claimed as ClaimedIdentity | null)?.release();
    throw error;
  }
}

async function start(
  host: Remote<MemberHost>,
  worker: Worker,
  room: string,
  signalingUrl: string,
  options: ConnectOptions,
  claiming: (identity: ClaimedIdentity) => void,
): Promise<Cluster> {
  let claimed = await claimIdentity(room);
  claiming(claimed);
  let started: { hasLog: boolean };
  try {
    started = await startHost(host, room, claimed, options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'STORAGE_LOST' && code !== 'STORAGE_CORRUPT') throw error;
    // Its database is gone or unreadable: never reuse the id (nor its vote), join as new.
    claimed.release();
    claimed = await claimIdentity(room, new Set([claimed.memberId]));
    claiming(claimed);
    started = await startHost(host, room, claimed, options);
  }
  const { memberId, release } = claimed;
  // With no signaling server this joins offline: tabs of this browser still meet over
  // BroadcastChannel, and the link keeps trying the server. A refusal (wrong secret) throws.
  const signaling = await RoomLink.join({
    url: signalingUrl,
    room,
    memberId,
    hasLog: () => started.hasLog,
    ...(options.secret ? { secret: options.secret } : {}),
  });
  const mesh = startMesh(host, meshSignaling(signaling), options);
  // StorageManager.persist() exists on pages only, not in the worker that holds the database.
  // Not awaited: some browsers ask the user, and joining must not wait for an answer.
  const persistence = { answer: 'unsupported' as PersistencePermission };
  void requestPersistentStorage().then((answer) => (persistence.answer = answer));
  const announce = async (): Promise<void> => {
    const local = await localMembers(room).catch(() => []);
    // The worker is gone once the cluster is closed: nothing to tell it then.
    await host
      .setRoomMembers([memberId, ...signaling.peers(), ...local], local)
      .catch(() => undefined);
  };
  signaling.on('peer-joined', () => void announce());
  signaling.on('peer-left', () => void announce());
  signaling.on('reconnected', () => void announce());
  await announce();
  // A member leaving on purpose says so, so the leader removes it now, not after the grace period.
  signaling.on('signal', (from, payload) => {
    if (isLeaving(payload)) void host.memberLeft(from);
  });
  const bootstrap = arbiter(host, room, memberId, started);
  signaling.on('bootstrap', () => void bootstrap('server').catch(() => undefined));
  if (signaling.bootstrapper) await bootstrap('server');
  const offlineCheck = setTimeout(() => {
    // Only a server that stayed out of reach: a slow or restarting one must not be outrun by a
    // tab that starts a cluster of its own.
    if (signaling.unreachable) void bootstrap('offline').catch(() => undefined);
  }, OFFLINE_BOOTSTRAP_AFTER_MS);
  const presence = setInterval(() => void announce(), PRESENCE_MS);
  const housekeeping = setInterval(
    () => void keepHouse(host, room, memberId, started),
    HOUSEKEEPING_MS,
  );
  const stopLifecycle = followPageLifecycle(host);
  const lanePorts = new MessageChannel();
  await host.openLane(transfer(lanePorts.port2, [lanePorts.port2]));
  const lane = new KvLaneClient(lanePorts.port1);
  const links = { mesh, signaling, lane, roomSecret: Boolean(options.secret) };
  const cluster = clusterApi(host, links, room, memberId, persistence, async (leave) => {
    clearTimeout(offlineCheck);
    clearInterval(presence);
    clearInterval(housekeeping);
    stopLifecycle();
    if (leave) for (const peer of signaling.peers()) signaling.signal(peer, LEAVING);
    await host.leave().catch(() => undefined);
    lane.close(new MemberStoppedError('the cluster handle was closed'));
    mesh.close();
    signaling.close();
    worker.terminate();
    release();
  });
  return cluster;
}

/**
 * Starts the cluster from this tab when an arbiter names it (decision 6): the signaling server
 * for a room (at once, or after its restart grace), or — with no server — the Web Lock that
 * tabs of this browser take turns under. Both go through that lock, so an offline tab and an
 * online one of the same browser never both start one; a member that has a log never does.
 */
function arbiter(
  host: Remote<MemberHost>,
  room: string,
  self: MemberId,
  started: { hasLog: boolean },
): (by: 'server' | 'offline') => Promise<void> {
  return async (by) => {
    if (started.hasLog) return;
    if (await arbitrateBootstrap(room, self, by, () => host.bootstrap())) started.hasLog = true;
  };
}

async function startHost(
  host: Remote<MemberHost>,
  room: string,
  identity: ClaimedIdentity,
  options: ConnectOptions,
): Promise<{ hasLog: boolean }> {
  const { hasLog } = await host.start({
    room,
    memberId: identity.memberId,
    existing: identity.existing,
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    ...(options.timeoutMs === undefined ? {} : { writeTimeoutMs: options.timeoutMs }),
    ...(options.votersTarget === undefined ? {} : { votersTarget: options.votersTarget }),
  });
  return { hasLog };
}

/**
 * Tells the worker what happens to the page: a page about to be frozen or closed hands
 * leadership over (see MemberHost.pageEvent). Returns the function that stops listening.
 */
function followPageLifecycle(host: Remote<MemberHost>): () => void {
  if (typeof document === 'undefined') return () => undefined;
  const listeners: [EventTarget, string, () => void][] = [
    [
      document,
      'visibilitychange',
      () => void host.pageEvent(document.visibilityState === 'hidden' ? 'hidden' : 'visible'),
    ],
    [document, 'freeze', () => void host.pageEvent('freeze')],
    [document, 'resume', () => void host.pageEvent('resume')],
    [window, 'pagehide', () => void host.pageEvent('pagehide')],
  ];
  for (const [target, type, listener] of listeners) target.addEventListener(type, listener);
  return () => {
    for (const [target, type, listener] of listeners) target.removeEventListener(type, listener);
  };
}

/** The signal a member sends to the room when it leaves on purpose (not a WebRTC signal). */
const LEAVING = { webraft: 'leaving' } as const;

function isLeaving(payload: unknown): boolean {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    (payload as { webraft?: unknown }).webraft === LEAVING.webraft
  );
}

/** How often a tab marks its identity active and the leader's tab forgets removed ones. */
const HOUSEKEEPING_MS = 5000;
/** How long the signaling server must stay out of reach before tabs start a cluster offline. */
const OFFLINE_BOOTSTRAP_AFTER_MS = 2000;
/** How often a tab looks for the other tabs of this browser in its room (Web Locks). */
const PRESENCE_MS = 1000;

/** Also notes when this member joined a cluster: it says so when it rejoins the server. */
async function keepHouse(
  host: Remote<MemberHost>,
  room: string,
  memberId: MemberId,
  belongs: { hasLog: boolean },
) {
  remember(room, memberId);
  const status = await host.status().catch(() => null);
  if (status === null) return;
  if ([...status.voters, ...status.learners].includes(memberId)) {
    belongs.hasLog = true;
    markClusterHere(room);
  }
  if (status.role !== 'leader') return;
  await forgetRemovedIdentities(room, new Set([...status.voters, ...status.learners]));
}

function startMesh(
  host: Remote<MemberHost>,
  signaling: MeshSignaling,
  { secret, rtcConfiguration }: ConnectOptions,
): PeerMesh {
  const move = canTransferDataChannel();
  return new PeerMesh({
    signaling,
    ...(secret ? { secret } : {}),
    ...(rtcConfiguration === undefined ? {} : { rtcConfiguration }),
    onRaftChannel: (peer, gen, channel) => {
      if (move) {
        void host.offerChannel(peer, gen, transfer(channel, [channel as unknown as Transferable]));
      } else {
        const { port1, port2 } = new MessageChannel();
        bridgeDataChannel(channel, port1);
        void host.offerPort(peer, gen, transfer(port2, [port2]));
      }
    },
    onAuthenticated: (peer, gen) => void host.authenticated(peer, gen),
  });
}

function clusterApi(
  host: Remote<MemberHost>,
  {
    mesh,
    signaling,
    lane,
    roomSecret,
  }: {
    readonly mesh: PeerMesh;
    readonly signaling: RoomLink;
    readonly lane: KvLaneClient;
    readonly roomSecret: boolean;
  },
  room: string,
  id: MemberId,
  persistence: { readonly answer: PersistencePermission },
  leave: (forGood: boolean) => Promise<void>,
): Cluster {
  let closed: Promise<void> | null = null;
  const status = async (): Promise<ClusterStatus> => {
    const states = mesh.states();
    const hosted = await host.status();
    return {
      ...hosted,
      storage:
        hosted.storage === null ? null : { ...hosted.storage, persistence: persistence.answer },
      room,
      signaling: signaling.connected ? 'connected' : 'offline',
      roomSecret,
      peers: Object.entries(states).map(([peer, state]) => ({ id: peer, state })),
    };
  };
  return {
    id,
    room,
    kv: {
      put: (key, value) => lane.call({ type: 'put', key, value }) as Promise<KvPutResult>,
      get: (key, options) =>
        lane.call({
          type: 'get',
          key,
          consistency: options?.consistency ?? 'linearizable',
        }) as Promise<KvGetResult>,
      delete: (key) => lane.call({ type: 'delete', key }) as Promise<KvDeleteResult>,
      cas: (key, expected, next) =>
        lane.call({ type: 'cas', key, expected, next }) as Promise<KvCasResult>,
      txn: ({ checks, writes }) =>
        lane.call({ type: 'txn', checks, writes }) as Promise<KvTxnResult>,
      entries: () => host.entries(),
    },
    subscribe: (listener) => lane.subscribe(listener),
    status,
    onStatus(listener, intervalMs = 250) {
      let stopped = false;
      const poll = async (): Promise<void> => {
        while (!stopped) {
          const current = await status().catch(() => null); // The member stopped: keep polling.
          if (current !== null && !stopped) listener(current);
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
      };
      void poll();
      return () => {
        stopped = true;
      };
    },
    recentLog: (count) => host.recentLog(count),
    setDisconnected: (disconnected) => host.setIsolated(disconnected),
    close: (options) => (closed ??= leave(options?.leave ?? true)),
  };
}
