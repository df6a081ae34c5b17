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
import type { TimelineEvent, TimelineOptions, TimelineStats } from '../runtime/timeline/events.js';
import { toShiViz } from '../runtime/timeline/shiviz.js';
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
import type { StorageFault } from '../storage/faulty.js';
import type { PersistencePermission } from '../storage/indexeddb.js';
import { bridgeDataChannel, canTransferDataChannel } from '../transport/webrtc/frame-channel.js';
import { PeerMesh } from '../transport/webrtc/peer-mesh.js';
import type { MeshSignaling } from '../transport/webrtc/peer-mesh.js';
import type { VotersTarget } from './autopilot.js';
import {
  arbitrateBootstrap,
  claimIdentity,
  forgetRemovedIdentities,
  localMembers,
  markClusterHere,
  remember,
} from './identity.js';
import type { KvLaneClient, KvLaneOp } from './kv-lane.js';
import type { RoomLink } from './room-link.js';
import { joinRoom } from './room-session.js';
import type { MeshLinks, PeerLinkState, RoomPlatform } from './room-session.js';
import { hostTuning } from './in-process.js';
import { memberKind } from './member-kind.js';
import type { MemberKind } from './member-kind.js';
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
  /**
   * Starts the member's worker; default the one shipped with webraft. Called again when the
   * member restarts after a storage failure (see `status().restarts`).
   */
  readonly worker?: () => Worker;
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
  /**
   * Times this tab restarted its member after it stopped by itself (a storage failure: quota
   * exhausted, site data cleared, the database taken by a newer version), and the latest. A
   * restart takes the same member back from its database when it can, else joins as a new one.
   */
  readonly restarts: {
    /** A restart is under way: the rest of this status is the stopped member's last. */
    readonly restarting: boolean;
    readonly count: number;
    readonly last: {
      readonly code: string;
      readonly atMs: number;
      readonly from: MemberId;
      readonly to: MemberId;
    } | null;
  };
  /**
   * The other members of the room, the state of this tab's connection to each (WebRTC, a raft
   * WebSocket to an edge member, or 'local': a tab of this browser, over BroadcastChannel with no
   * WebRTC connection), and what kind of member each is.
   */
  readonly peers: readonly {
    readonly id: MemberId;
    readonly state: PeerLinkState;
    readonly kind: MemberKind;
  }[];
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

/**
 * This tab's member's message timeline (README "Message timeline"): off until started; while
 * off, messages carry no clock and nothing is recorded. A tab records only its own member.
 */
export interface ClusterTimeline {
  /** Starts recording (or takes new options); a member restarted later records again. */
  start(options?: TimelineOptions): Promise<void>;
  stop(): Promise<void>;
  /** This member's events, oldest first. */
  events(): Promise<TimelineEvent[]>;
  stats(): Promise<TimelineStats | null>;
  /** This member's events and `others` (say, other tabs' events) merged into one ShiViz log. */
  exportShiViz(others?: readonly TimelineEvent[]): Promise<string>;
}

export interface Cluster {
  /** This tab's member id (a new one if the member had to rejoin as a new member). */
  readonly id: MemberId;
  readonly room: string;
  readonly kv: ClusterKv;
  readonly timeline: ClusterTimeline;
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
   * Fault injection: fail this member's storage writes as a full disk ('quota') or a database
   * taken away ('unavailable') would. The member stops at its next write and is restarted
   * (`status().restarts`), which ends the fault.
   */
  setStorageFault(fault: StorageFault | null): Promise<void>;
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
  const config: LaunchConfig = { room, signalingUrl, options };
  return supervise(config, await launch(config, new Set()));
}

export interface LaunchConfig {
  readonly room: string;
  readonly signalingUrl: string;
  readonly options: ConnectOptions;
}

/** One life of this tab's member: its worker, identity, signaling link, mesh and lane. */
export interface Incarnation {
  readonly memberId: MemberId;
  readonly host: Remote<MemberHost>;
  readonly mesh: MeshLinks;
  readonly signaling: RoomLink;
  readonly lane: KvLaneClient;
  readonly persistence: { readonly answer: PersistencePermission };
  /** Resolves when this life ends (a call to its worker after that would never answer). */
  readonly whenStopped: Promise<void>;
  /** Stops all of it, once; `leave` first tells the room this member leaves for good. */
  stop(leave: boolean): Promise<void>;
}

const startDefaultWorker = (): Worker =>
  new Worker(new URL('./member.worker.js', import.meta.url), { type: 'module' });

/** Starts a member in a new worker, under an identity not in `avoid`. */
async function launch(config: LaunchConfig, avoid: ReadonlySet<MemberId>): Promise<Incarnation> {
  const worker = (config.options.worker ?? startDefaultWorker)();
  const host = wrap<MemberHost>(worker);
  let claimed: ClaimedIdentity | null = null;
  try {
    return await start(host, worker, config, avoid, (identity) => {
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
  { room, signalingUrl, options }: LaunchConfig,
  avoid: ReadonlySet<MemberId>,
  claiming: (identity: ClaimedIdentity) => void,
): Promise<Incarnation> {
  let claimed = await claimIdentity(room, avoid);
  claiming(claimed);
  let started: { hasLog: boolean };
  try {
    started = await startHost(host, room, claimed, options);
  } catch (error) {
    // By name: comlink brings a worker's error across with its name and message, not its code.
    const { name } = error as { name?: unknown };
    if (name !== 'StorageLostError' && name !== 'StorageCorruptError') throw error;
    // Its database is gone or unreadable: never reuse the id (nor its vote), join as new.
    claimed.release();
    claimed = await claimIdentity(room, new Set([...avoid, claimed.memberId]));
    claiming(claimed);
    started = await startHost(host, room, claimed, options);
  }
  const { memberId, release } = claimed;
  const session = await joinRoom(host, browserRoom(host, options), {
    url: signalingUrl,
    room,
    memberId,
    started,
    ...(options.secret ? { secret: options.secret } : {}),
  });
  const { signaling, mesh, lane } = session;
  // StorageManager.persist() exists on pages only, not in the worker that holds the database;
  // it answers for the member's storage where the worker could not (no bucket of its own).
  // Not awaited: some browsers ask the user, and joining must not wait for an answer.
  const persistence = { answer: 'unsupported' as PersistencePermission };
  void requestPersistentStorage().then((answer) => (persistence.answer = answer));
  const stopLifecycle = followPageLifecycle(host);
  let stopped: Promise<void> | null = null;
  let markStopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = (leave: boolean): Promise<void> => (stopped ??= stopAll(leave));
  const stopAll = async (leave: boolean): Promise<void> => {
    markStopped();
    stopLifecycle();
    await session.stop(leave);
    worker.terminate();
    release();
  };
  return { memberId, host, mesh, signaling, lane, persistence, whenStopped, stop };
}

/**
 * A tab in its room: the mesh moves each raft channel into the worker (or bridges it), the tabs
 * of this browser are found by their Web Locks, and with no server they take turns to bootstrap
 * under a Web Lock (identity.ts).
 */
function browserRoom(host: Remote<MemberHost>, options: ConnectOptions): RoomPlatform {
  return {
    localMembers,
    arbitrateBootstrap,
    keepHouse: async (room, memberId, status) => {
      remember(room, memberId);
      if (status === null) return;
      const members = [...status.voters, ...status.learners];
      if (members.includes(memberId)) await markClusterHere(room);
      if (status.role === 'leader') await forgetRemovedIdentities(room, new Set(members));
    },
    startMesh: (signaling) => startMesh(host, signaling, options),
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
    ...hostTuning(options),
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

/** How often the page looks for a member that stopped by itself. */
const FAILURE_CHECK_MS = 1000;
/** Waits between restarts of a member that keeps failing: doubling, up to the maximum. */
const RESTART_DELAY_MS = { min: 1000, max: 15_000 };
/** Failed restarts under one identity before the member rejoins as a new member. */
const RESTARTS_PER_IDENTITY_MAX = 3;

/**
 * The cluster handle, over whichever life of this tab's member is current. A member that stops by
 * itself (a write it could not make durable: storage full, site data cleared, the database taken
 * by another version) is restarted, with growing waits: from its own database when it opens and
 * writes again, which recovers it, and after a few failures, or at once if its database is gone
 * or unreadable, under a new identity, which rejoins it as a new member. The cluster meanwhile
 * runs on without it, and nothing it acknowledged is lost. `relaunch` starts the next life (a
 * Node member passes its own: same handle, another host).
 */
export function supervise(
  config: LaunchConfig,
  first: Incarnation,
  relaunch: (avoid: ReadonlySet<MemberId>) => Promise<Incarnation> = (avoid) =>
    launch(config, avoid),
): Cluster {
  const { room } = config;
  const roomSecret = Boolean(config.options.secret);
  let current = first;
  let closing: Promise<void> | null = null;
  let restarting = false;
  let failuresInARow = 0;
  const avoid = new Set<MemberId>();
  let restarts: Omit<ClusterStatus['restarts'], 'restarting'> = { count: 0, last: null };
  /** The member's status as last heard: what status() shows while a restart is under way. */
  let lastHosted: HostStatus | null = null;
  const listeners = new Set<(changes: readonly KvChange[]) => void>();
  let unsubscribe: (() => void) | null = null;
  const forward = (changes: readonly KvChange[]): void => {
    for (const listener of listeners) listener(changes);
  };
  const follow = (): void => {
    unsubscribe?.();
    unsubscribe = listeners.size > 0 ? current.lane.subscribe(forward) : null;
  };

  const restart = async (code: string): Promise<void> => {
    const from = current.memberId;
    await current.stop(false);
    // Each attempt counts once, whether the launch fails or the member fails again after it.
    for (;;) {
      // After a few failures under one identity, rejoin as a new member.
      if (failuresInARow >= RESTARTS_PER_IDENTITY_MAX) avoid.add(from);
      const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.min * 2 ** failuresInARow++);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (closing !== null) return;
      try {
        current = await relaunch(avoid);
        break;
      } catch {
        // Still no storage: wait longer and try again.
      }
    }
    if (closing !== null) return void (await current.stop(false));
    follow();
    if (timelineOptions !== null) void current.host.timelineStart(timelineOptions);
    restarts = {
      count: restarts.count + 1,
      last: { code, atMs: Date.now(), from, to: current.memberId },
    };
  };
  const check = setInterval(() => {
    if (restarting || closing !== null) return;
    void ask((host) => host.status()).then(
      (hosted) => {
        lastHosted = hosted;
        const failure = hosted.failure;
        if (failure === null) {
          // Running again as a member of the cluster: failures in a row are over.
          if ([...hosted.voters, ...hosted.learners].includes(hosted.id)) failuresInARow = 0;
          return;
        }
        if (restarting || closing !== null) return;
        restarting = true;
        void restart(failure.code).finally(() => (restarting = false));
      },
      () => undefined, // A worker being replaced.
    );
  }, FAILURE_CHECK_MS);

  /** Asks the current member's worker; fails, rather than never answers, if that life ends. */
  const ask = <T>(question: (host: Remote<MemberHost>) => Promise<T>): Promise<T> => {
    const life = current;
    const ended = life.whenStopped.then(() => {
      throw new MemberStoppedError(`member ${life.memberId} stopped`);
    });
    // Only the race reads it: once the question is answered first, its rejection at the end of
    // this life goes unheard (an unhandled rejection, which ends a Node process).
    ended.catch(() => undefined);
    return Promise.race([question(life.host), ended]);
  };
  const status = async (): Promise<ClusterStatus> => {
    const { mesh, signaling, persistence } = current;
    let hosted: HostStatus;
    try {
      hosted = await ask((host) => host.status());
      lastHosted = hosted;
    } catch (error) {
      if (!restarting || lastHosted === null) throw error;
      hosted = lastHosted;
    }
    return {
      ...hosted,
      storage:
        hosted.storage === null || hosted.storage.persistence !== 'unsupported'
          ? hosted.storage
          : { ...hosted.storage, persistence: persistence.answer },
      room,
      signaling: signaling.connected ? 'connected' : 'offline',
      roomSecret,
      restarts: { ...restarts, restarting },
      // Edge members are linked by the member's own sockets, the others by the page's mesh.
      peers: Object.entries({ ...mesh.states(), ...hosted.sockets }).map(([peer, state]) => ({
        id: peer,
        state,
        kind: memberKind(peer, signaling.peerInfo(peer)),
      })),
    };
  };
  const call = (op: KvLaneOp): Promise<unknown> => current.lane.call(op);
  /** What the member records with, or null when not recording: a restarted one starts again. */
  let timelineOptions: TimelineOptions | null = null;
  const timeline: ClusterTimeline = {
    start: (options = {}) => {
      timelineOptions = options;
      return ask((host) => host.timelineStart(options));
    },
    stop: () => {
      timelineOptions = null;
      return ask((host) => host.timelineStop());
    },
    events: () => ask((host) => host.timelineEvents()),
    stats: () => ask((host) => host.timelineStats()),
    exportShiViz: async (others = []) =>
      toShiViz([...(await ask((host) => host.timelineEvents())), ...others]),
  };
  return {
    get id() {
      return current.memberId;
    },
    room,
    kv: {
      put: (key, value) => call({ type: 'put', key, value }) as Promise<KvPutResult>,
      get: (key, options) =>
        call({
          type: 'get',
          key,
          consistency: options?.consistency ?? 'linearizable',
        }) as Promise<KvGetResult>,
      delete: (key) => call({ type: 'delete', key }) as Promise<KvDeleteResult>,
      cas: (key, expected, next) =>
        call({ type: 'cas', key, expected, next }) as Promise<KvCasResult>,
      txn: ({ checks, writes }) => call({ type: 'txn', checks, writes }) as Promise<KvTxnResult>,
      entries: () => ask((host) => host.entries()),
    },
    timeline,
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) follow();
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) follow();
      };
    },
    status,
    onStatus(listener, intervalMs = 250) {
      let stopped = false;
      const poll = async (): Promise<void> => {
        while (!stopped) {
          const latest = await status().catch(() => null); // Restarting: keep polling.
          if (latest !== null && !stopped) listener(latest);
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
      };
      void poll();
      return () => {
        stopped = true;
      };
    },
    recentLog: (count) => ask((host) => host.recentLog(count)),
    setDisconnected: (disconnected) => ask((host) => host.setIsolated(disconnected)),
    setStorageFault: (fault) => ask((host) => host.setStorageFault(fault)),
    close: (options) =>
      (closing ??= (async () => {
        clearInterval(check);
        await current.stop(options?.leave ?? true);
      })()),
  };
}
