/**
 * The member a tab runs in its worker (issue 7): the runtime driver and core over IndexedDB
 * storage and the WebRTC mesh transport (channels arrive from the page), the replicated KV with a
 * client session, and the autopilot (autopilot.ts) when it leads. The page talks to it
 * through comlink (`connect()` in connect.ts); everything here is plain data or promises.
 */
import { NotLeaderError } from '../core/errors.js';
import { createSeededRandom } from '../core/random.js';
import type { MemberId } from '../core/types.js';
import { Member } from '../runtime/member.js';
import type { MemberStatus, ReadConsistency } from '../runtime/member.js';
import type { TimelineEvent, TimelineOptions, TimelineStats } from '../runtime/timeline/events.js';
import { realScheduler, wallClock } from '../runtime/scheduler.js';
import type { Scheduler } from '../runtime/scheduler.js';
import type { PeerInfo } from '../signaling/protocol.js';
import { KvStateMachine } from '../state/kv.js';
import type {
  JsonValue,
  KvCasResult,
  KvDeleteResult,
  KvGetResult,
  KvPutResult,
  KvQuery,
  KvQueryResult,
  KvRangeResult,
  KvResult,
  KvTxnCheck,
  KvTxnResult,
  KvTxnWrite,
} from '../state/kv-types.js';
import { FaultyStorage } from '../storage/faulty.js';
import type { StorageFault } from '../storage/faulty.js';
import { IndexedDbStorage } from '../storage/indexeddb.js';
import { BroadcastChannelTransport } from '../transport/broadcast.js';
import { FallbackTransport } from '../transport/fallback.js';
import { FaultyTransport } from '../transport/faults.js';
import { dataChannelFrames, portFrames } from '../transport/webrtc/frame-channel.js';
import { MeshTransport } from '../transport/webrtc/mesh-transport.js';
import type { PeerState } from '../transport/webrtc/peer-mesh.js';
import { SOCKET_CLOSE } from '../transport/websocket/socket-channel.js';
import type { RaftSocket, RaftSocketConstructor } from '../transport/websocket/socket-channel.js';
import { SocketLinks } from '../transport/websocket/socket-links.js';
import type { SocketRefusals } from '../transport/websocket/socket-links.js';
import { serveKvLane } from './kv-lane.js';
import { KvSessionPool } from './kv-session.js';
import {
  AUTOPILOT_DEFAULTS,
  checkVotersTarget,
  membershipView,
  nextMembershipChange,
} from './autopilot.js';
import type { AutopilotPolicy, VoterPreferences, VotersTarget } from './autopilot.js';
import { summarizeEntry } from './log-summary.js';
import type { Storage } from '../storage/storage.js';
import type { Transport } from '../transport/transport.js';

type KvMember = Member<KvResult, KvQuery, KvQueryResult>;

export interface HostStartOptions {
  readonly room: string;
  readonly memberId: MemberId;
  /** Open the member's existing database (a reload) rather than create one. */
  readonly existing: boolean;
  /**
   * Start a cluster with this member as its only voter, if it has never been in one. Usually
   * false: an arbiter decides later, through `bootstrap()`.
   */
  readonly bootstrap?: boolean;
  /** Default 50 ms. */
  readonly tickMs?: number;
  /** How long a write waits through elections before failing. Default 5 s. */
  readonly writeTimeoutMs?: number;
  /** Voters the autopilot aims for when this member leads: 1, 3 (default), 5 or 7. */
  readonly votersTarget?: VotersTarget;
  /** The room secret: proven on raft WebSockets (to and from edge members), never sent. */
  readonly secret?: string;
}

/** One autopilot decision, as the cluster panel lists it. */
export interface AutopilotEntry {
  readonly atMs: number;
  readonly change: string;
  readonly reason: string;
  /** 'applied', or why the change was not made. */
  readonly outcome: string;
}

/** What the cluster panel shows: the member's status and this worker's links. */
export interface HostStatus extends Pick<
  MemberStatus,
  | 'id'
  | 'role'
  | 'term'
  | 'leaderId'
  | 'commitIndex'
  | 'appliedIndex'
  | 'lastIndex'
  | 'voters'
  | 'learners'
  | 'storage'
  | 'failure'
  | 'pauses'
> {
  /** Peers with an authenticated channel in this worker, or running in this browser. */
  readonly connected: readonly MemberId[];
  /** This member's raft WebSockets (to edge members, or into one): each peer's state. */
  readonly sockets: Readonly<Record<MemberId, PeerState>>;
  /**
   * Raft sockets refused since the member started, by reason (`authFailed`, `timeout`, ...,
   * and `refusedByPeer` for dials the other end refused): a wrong secret or a hostile dialer
   * shows here, never as a crash.
   */
  readonly socketRefusals: SocketRefusals;
  /** What the room said of its members' wish to vote, as the autopilot reads it. */
  readonly voterPreferences: { readonly preferred: MemberId[]; readonly neverVote: MemberId[] };
  readonly isolated: boolean;
  /** What the page told the worker of its lifecycle (visibility, freezes). */
  readonly page: PageLifecycle;
  /** The autopilot's target and its latest decisions (while this member leads), newest last. */
  readonly autopilot: {
    readonly votersTarget: VotersTarget;
    readonly decisions: readonly AutopilotEntry[];
  };
}

/** The page's lifecycle as the worker knows it (Page Visibility and Page Lifecycle events). */
export interface PageLifecycle {
  readonly visibility: 'visible' | 'hidden';
  /** Times the page said it was about to be frozen (the `freeze` event). */
  readonly freezes: number;
  /** Leadership hand-offs made because the page was hidden away, frozen or closed. */
  readonly handOffs: number;
}

/** What happened to the page, as connect() reports it to the worker. */
export type PageEvent = 'visible' | 'hidden' | 'freeze' | 'resume' | 'pagehide';

/** One entry of the log view. */
export interface LogLine {
  readonly index: number;
  readonly term: number;
  readonly kind: string;
  readonly summary: string;
}

/**
 * Where a host runs: what storage its member keeps its log in, and how it reaches peers besides
 * the WebRTC mesh. The default is a tab's worker (IndexedDB; BroadcastChannel to tabs of this
 * browser); a Node member (src/node) keeps its log in files and has the mesh alone.
 */
export interface HostEnvironment {
  /** Opens the member's storage (`existing`: it was created before), and names it for errors. */
  openStorage(options: {
    readonly room: string;
    readonly memberId: MemberId;
    readonly existing: boolean;
  }): Promise<{ readonly storage: Storage; readonly name: string }>;
  /**
   * The member's transport, given its mesh of WebRTC channels and the members that other tabs of
   * this browser run (they hold their identity locks here).
   */
  links(
    mesh: MeshTransport,
    options: {
      readonly room: string;
      readonly memberId: MemberId;
      readonly localTabs: LocalTabs;
    },
  ): Transport;
  /** Timers for the member; default the platform's (an edge runtime may give its own). */
  readonly scheduler?: Scheduler;
  /** Makes raft WebSockets to edge members; default the runtime's WebSocket (Node 20: `ws`). */
  readonly WebSocket?: RaftSocketConstructor;
  /** Where this member accepts raft WebSockets (an edge member's endpoint): see socket-links.ts. */
  readonly endpoint?: string;
}

/** The members other tabs of this browser run, as the host learns them from the Web Locks. */
export interface LocalTabs {
  has(peer: MemberId): boolean;
  /** Calls `listener` with the members now, and again whenever they change. */
  watch(listener: (peers: ReadonlySet<MemberId>) => void): void;
}

/** A tab's worker: IndexedDB, and BroadcastChannel beside the mesh. */
export const BROWSER_HOST: HostEnvironment = {
  async openStorage({ room, memberId, existing }) {
    const database = existing
      ? await IndexedDbStorage.open(memberId, { namespace: room })
      : await IndexedDbStorage.create(memberId, { namespace: room });
    return { storage: database, name: database.database };
  },
  // Tabs of this browser talk over BroadcastChannel, with or without a WebRTC link (cheaper and
  // faster: see fallback.ts); the mesh carries the rest. Same origin, so the same trust as the
  // origin's IndexedDB, with no room secret to prove.
  links: (mesh, { room, memberId, localTabs }) => {
    const broadcast = new BroadcastChannelTransport({ cluster: room, self: memberId });
    // A tab's member listens on its channel with each other tab's from the start: one that
    // replaced a member those tabs heard lately gets what they send there at once.
    localTabs.watch((peers) => broadcast.listenTo(peers));
    return new FallbackTransport(mesh, broadcast, (peer) => localTabs.has(peer));
  },
};

const MANAGE_EVERY_MS = 250;
/** Autopilot decisions kept for the panel. */
const DECISIONS_KEPT = 20;
const RETRY_DELAY_MS = 100;
/** How long a leaving leader answers for its successor at most (a lost transfer must not hold it). */
const HANDOFF_WAIT_MS_MAX = 2_000;
const HANDOFF_POLL_MS = 20;

export class MemberHost {
  private member: KvMember | null = null;
  private readonly machine = new KvStateMachine();
  private mesh: MeshTransport | null = null;
  private sockets: SocketLinks | null = null;
  /** What the room's members said of themselves (an endpoint, a wish to vote), by id. */
  private roomInfo = new Map<MemberId, PeerInfo>();
  private faults: FaultyTransport | null = null;
  private storageFaults: FaultyStorage | null = null;
  private sessionPool: KvSessionPool | null = null;
  private manager: ReturnType<typeof setInterval> | null = null;
  private changing = false;
  private policy: AutopilotPolicy = AUTOPILOT_DEFAULTS;
  private readonly decisions: AutopilotEntry[] = [];
  private writeTimeoutMs = 5000;
  /** Members in the room (from signaling), and since when each member of the config is not. */
  private readonly present = new Set<MemberId>();
  private readonly absentSince = new Map<MemberId, number>();
  /** Members run by other tabs of this browser, reached over BroadcastChannel. */
  private localTabs = new Set<MemberId>();
  private readonly localTabsListeners: ((peers: ReadonlySet<MemberId>) => void)[] = [];
  /** Members that said they leave for good, until they are out of the room. */
  private readonly leaving = new Set<MemberId>();
  private page: PageLifecycle = { visibility: 'visible', freezes: 0, handOffs: 0 };

  constructor(private readonly environment: HostEnvironment = BROWSER_HOST) {}

  async start(
    options: HostStartOptions,
  ): Promise<{ id: MemberId; restored: boolean; hasLog: boolean }> {
    if (this.member !== null) throw new Error('this worker already runs a member');
    const { room, memberId } = options;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 5000;
    this.policy = {
      ...AUTOPILOT_DEFAULTS,
      votersTarget: checkVotersTarget(options.votersTarget ?? AUTOPILOT_DEFAULTS.votersTarget),
    };
    const opened = await this.environment.openStorage({
      room,
      memberId,
      existing: options.existing,
    });
    const storage = new FaultyStorage(opened.storage, opened.name);
    this.storageFaults = storage;
    this.mesh = new MeshTransport({ cluster: room, self: memberId });
    const { WebSocket, endpoint } = this.environment;
    this.sockets = new SocketLinks({
      room,
      self: memberId,
      mesh: this.mesh,
      ...(options.secret ? { secret: options.secret } : {}),
      ...(WebSocket === undefined ? {} : { WebSocket }),
      ...(endpoint === undefined ? {} : { endpoint }),
    });
    const links = this.environment.links(this.mesh, {
      room,
      memberId,
      localTabs: {
        has: (peer) => this.localTabs.has(peer),
        watch: (listener) => {
          this.localTabsListeners.push(listener);
          listener(this.localTabs);
        },
      },
    });
    const scheduler = this.environment.scheduler ?? realScheduler;
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.faults = new FaultyTransport(links, { random: createSeededRandom(seed), scheduler });
    this.member = await Member.start<KvResult, KvQuery, KvQueryResult>({
      id: memberId,
      ...(options.bootstrap ? { bootstrap: { voters: [memberId], learners: [] } } : {}),
      storage,
      transport: this.faults,
      stateMachine: this.machine,
      scheduler,
      wallClock,
      random: createSeededRandom(seed ^ 0x9e3779b9),
      tickMs: options.tickMs ?? 50,
    });
    this.present.add(memberId);
    this.manager = setInterval(() => this.manage(), MANAGE_EVERY_MS);
    const { lastIndex, snapshotIndex, term } = this.member.status();
    return {
      id: memberId,
      restored: options.existing,
      hasLog: lastIndex > 0 || snapshotIndex > 0 || term > 0,
    };
  }

  /** A raft channel moved into this worker, usable once `authenticated(peer, gen)`. */
  offerChannel(peer: MemberId, gen: string, channel: RTCDataChannel): void {
    this.mesh?.offer(peer, gen, dataChannelFrames(channel));
  }

  /** A port bridged to a raft channel that stays on the page. */
  offerPort(peer: MemberId, gen: string, port: MessagePort): void {
    this.mesh?.offer(peer, gen, portFrames(port));
  }

  authenticated(peer: MemberId, gen: string): void {
    this.mesh?.authenticated(peer, gen);
  }

  /** A raft WebSocket the host upgraded (an edge member's): authenticated, then used. */
  acceptSocket(socket: RaftSocket): void {
    if (this.sockets === null) return void socket.close(SOCKET_CLOSE.normal, 'not running');
    this.sockets.accept(socket);
  }

  /**
   * Who is in the room now (this member included): `ids` from the signaling server and this
   * browser's tabs, `local` the latter alone (reachable with no WebRTC link), and `info` what
   * signaling members said of themselves: those with an endpoint are dialed over WebSocket.
   */
  setRoomMembers(
    ids: readonly MemberId[],
    local: readonly MemberId[] = [],
    info: readonly PeerInfo[] = [],
  ): void {
    this.localTabs = new Set(local.filter((id) => id !== this.member?.status().id));
    for (const listener of this.localTabsListeners) listener(this.localTabs);
    this.present.clear();
    for (const id of ids) if (!this.leaving.has(id)) this.present.add(id);
    for (const id of this.leaving) if (!ids.includes(id)) this.leaving.delete(id); // Gone now.
    this.roomInfo = new Map(
      info.filter((peer) => ids.includes(peer.memberId)).map((peer) => [peer.memberId, peer]),
    );
    const endpoints = new Map<MemberId, string>();
    for (const { memberId, endpoint } of this.roomInfo.values())
      if (endpoint !== undefined) endpoints.set(memberId, endpoint);
    this.sockets?.setEndpoints(endpoints);
  }

  /**
   * Who the autopilot should prefer as voters and who must never vote: members that said so,
   * and edge members (an endpoint: always on) unless they said they will not vote.
   */
  voterPreferences(): VoterPreferences {
    const preferred = new Set<MemberId>();
    const neverVote = new Set<MemberId>();
    for (const { memberId, endpoint, voter } of this.roomInfo.values()) {
      if (voter === false) neverVote.add(memberId);
      else if (voter === true || endpoint !== undefined) preferred.add(memberId);
    }
    return { preferred, neverVote };
  }

  /** `id` said it is leaving the room for good: removed at once (if this member leads). */
  memberLeft(id: MemberId): void {
    this.leaving.add(id);
    this.present.delete(id);
    this.absentSince.set(id, Date.now() - this.policy.removeAfterMs);
  }

  put(key: string, value: JsonValue): Promise<KvPutResult> {
    return this.sessions().put(key, value);
  }

  delete(key: string): Promise<KvDeleteResult> {
    return this.sessions().delete(key);
  }

  cas(key: string, expected: JsonValue | null, next: JsonValue): Promise<KvCasResult> {
    return this.sessions().cas(key, expected, next);
  }

  txn(checks: readonly KvTxnCheck[], writes: readonly KvTxnWrite[]): Promise<KvTxnResult> {
    return this.sessions().txn(checks, writes);
  }

  /** Reads `key` with the promised consistency, waiting through an election up to the timeout. */
  async get(key: string, consistency: ReadConsistency = 'linearizable'): Promise<KvGetResult> {
    const deadline = Date.now() + this.writeTimeoutMs;
    for (;;) {
      try {
        return (await this.running().read({ type: 'get', key }, consistency)) as KvGetResult;
      } catch (error) {
        if (!(error instanceof NotLeaderError) || Date.now() >= deadline) throw error;
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  /** Serves the page's batched KV calls and change stream on `port` (see kv-lane.ts). */
  openLane(port: MessagePort): void {
    serveKvLane(port, {
      run: (op) => {
        switch (op.type) {
          case 'put':
            return this.put(op.key, op.value);
          case 'delete':
            return this.delete(op.key);
          case 'cas':
            return this.cas(op.key, op.expected, op.next);
          case 'txn':
            return this.txn(op.checks, op.writes);
          case 'get':
            return this.get(op.key, op.consistency);
        }
      },
      watch: (listener) => this.machine.subscribe(listener),
    });
  }

  /**
   * Every key and value this member has applied (the demo's table, convergence checks), page by
   * page: one range query holds at most `KV_LIMITS.rangeEntriesMax` keys.
   */
  entries(): { key: string; value: JsonValue; version: number }[] {
    const all: { key: string; value: JsonValue; version: number }[] = [];
    let after: string | undefined;
    for (;;) {
      const page = this.machine.query({
        type: 'range',
        prefix: '',
        ...(after === undefined ? {} : { after }),
      }) as KvRangeResult;
      for (const { key, value, version } of page.entries) all.push({ key, value, version });
      after = page.entries.at(-1)?.key;
      if (!page.more || after === undefined) return all;
    }
  }

  status(): HostStatus {
    const member = this.running();
    const s = member.status();
    const { preferred, neverVote } = this.voterPreferences();
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      leaderId: s.leaderId,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      lastIndex: s.lastIndex,
      voters: s.voters,
      learners: s.learners,
      connected: this.reachablePeers(),
      sockets: this.sockets?.states() ?? {},
      socketRefusals: this.sockets?.refusals() ?? {},
      voterPreferences: { preferred: [...preferred], neverVote: [...neverVote] },
      isolated: this.faults?.state().isolated ?? false,
      autopilot: { votersTarget: this.policy.votersTarget, decisions: [...this.decisions] },
      storage: s.storage,
      failure: s.failure,
      pauses: s.pauses,
      page: this.page,
    };
  }

  /** The last `count` entries of the log, newest last. */
  recentLog(count = 20): LogLine[] {
    const { entries } = this.running().inspect();
    return entries.slice(-count).map((entry) => ({
      index: entry.index,
      term: entry.term,
      kind: entry.kind,
      summary: summarizeEntry(entry.kind, entry.data),
    }));
  }

  /**
   * Starts a cluster with this member as its only voter, if it has never been part of one (see
   * Member.bootstrap); the page calls it once an arbiter named this tab. Returns whether it did.
   */
  bootstrap(): boolean {
    const member = this.running();
    return member.bootstrap({ voters: [member.status().id], learners: [] });
  }

  /**
   * The page's lifecycle. About to be frozen or closed, a leader hands leadership over now: a
   * frozen leader would hold up every write for an election timeout, and a closed one for the
   * grace period. The worker of a frozen page may be frozen with it, so this cannot wait for
   * the freeze to be noticed. Visibility only shows in the status: a hidden page's worker keeps
   * its timers, so the member keeps its role.
   */
  pageEvent(event: PageEvent): void {
    const page = this.page;
    if (event === 'visible' || event === 'hidden') {
      this.page = { ...page, visibility: event };
      return;
    }
    if (event === 'resume') return; // The member notices the gap itself (status().pauses).
    const handedOff = this.member?.handOffLeadership() ?? null;
    this.page = {
      ...page,
      freezes: page.freezes + (event === 'freeze' ? 1 : 0),
      handOffs: page.handOffs + (handedOff === null ? 0 : 1),
    };
  }

  /**
   * Fault injection: make every write of this member's storage fail as a full disk ('quota') or
   * a database taken away ('unavailable') would, or (null) stop. The member stops at its next
   * write, and the page restarts it (see connect()), which clears the fault.
   */
  setStorageFault(fault: StorageFault | null): void {
    this.storageFaults?.setFault(fault);
  }

  /** Starts recording this member's message timeline (README "Message timeline"). */
  timelineStart(options: TimelineOptions = {}): void {
    this.running().timeline.start(options);
  }

  timelineStop(): void {
    this.member?.timeline.stop();
  }

  /** The recorded events, oldest first: plain data, cloned across to the page. */
  timelineEvents(): TimelineEvent[] {
    return this.member?.timeline.events() ?? [];
  }

  timelineStats(): TimelineStats | null {
    return this.member?.timeline.stats() ?? null;
  }

  /** Fault injection: cut this member off from every peer, or reconnect it. */
  setIsolated(isolated: boolean): void {
    if (isolated) this.faults?.isolate();
    else this.faults?.heal();
  }

  /** Leaves gracefully: hands leadership to a caught-up voter first, then stops. */
  async leave(): Promise<void> {
    const member = this.member;
    if (member === null) return;
    if (this.manager !== null) clearInterval(this.manager);
    const before = member.status();
    const successor = member.handOffLeadership();
    if (successor !== null) await successorSettled(member, successor, before);
    this.member = null;
    await member.stop('left the room');
    this.sockets?.close();
    this.faults?.close();
  }

  /** Peers with an authenticated WebRTC channel, or tabs of this browser (BroadcastChannel). */
  private reachablePeers(): MemberId[] {
    return [...new Set([...(this.mesh?.peers() ?? []), ...this.localTabs])];
  }

  private running(): KvMember {
    if (this.member === null) throw new Error('the member is not running');
    return this.member;
  }

  /** The client sessions of this tab's writes, opened on the first one. */
  private sessions(): KvSessionPool {
    this.sessionPool ??= new KvSessionPool({
      submit: (command) => this.running().propose(command, { forward: true }),
      sleep,
      leaderKnown: (maxMs) => this.member?.leaderKnown(maxMs) ?? sleep(maxMs),
      attemptsMax: Math.ceil(this.writeTimeoutMs / RETRY_DELAY_MS),
      retryDelayMs: RETRY_DELAY_MS,
    });
    return this.sessionPool;
  }

  /** The autopilot, when this member leads: one change at a time. */
  private manage(): void {
    const member = this.member;
    if (member === null || this.changing) return;
    const status = member.status();
    const now = Date.now();
    for (const id of [...status.voters, ...status.learners]) {
      if (this.present.has(id)) this.absentSince.delete(id);
      else if (!this.absentSince.has(id)) this.absentSince.set(id, now);
    }
    if (status.role !== 'leader') return;
    const reachable = new Set([status.id, ...this.reachablePeers()]);
    const decision = nextMembershipChange(
      membershipView(member),
      new Set([...this.present].filter((id) => reachable.has(id))),
      (id) => now - (this.absentSince.get(id) ?? now),
      this.policy,
      this.voterPreferences(),
    );
    if (decision === null) return;
    this.changing = true;
    const { change, reason } = decision;
    const note = (outcome: string): void => {
      this.decisions.push({
        atMs: now,
        change: `${change.type} ${change.member}`,
        reason,
        outcome,
      });
      if (this.decisions.length > DECISIONS_KEPT) this.decisions.shift();
    };
    member
      .changeMembership(change)
      .then(
        () => note('applied'),
        // In progress, lost leadership...: the next round decides again.
        (error: unknown) => note((error as { code?: string }).code ?? 'failed'),
      )
      .finally(() => {
        this.changing = false;
      });
  }
}

/**
 * Waits, at most HANDOFF_WAIT_MS_MAX, until `successor` leads and its first entry (the no-op a new
 * leader commits before anything else) is committed. In a room of two voters — an edge member
 * and the last tab — the new leader can commit nothing without the one leaving, and a leader
 * whose no-op never commits can remove no one: the room would be stuck with a voter that is
 * gone. A fixed wait lost that race whenever a write took longer than it (workerd's disk).
 */
async function successorSettled(
  member: KvMember,
  successor: MemberId,
  before: { readonly term: number; readonly lastIndex: number },
): Promise<void> {
  const deadline = Date.now() + HANDOFF_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const now = member.status();
    if (now.leaderId === successor && now.term > before.term && now.commitIndex > before.lastIndex)
      return;
    await sleep(HANDOFF_POLL_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
