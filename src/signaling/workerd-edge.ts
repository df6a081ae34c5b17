/**
 * The edge member of a room, hosted by that room's signaling Durable Object on workerd (issue
 * 13): the object that relays the room's signaling also runs one Raft member whose log is in the
 * object's own storage (DurableObjectStorage), so the room keeps its state, and a quorum, when
 * every tab is closed.
 *
 * - Configuration: the EDGE_ROOMS binding names the rooms that have one (`edgeSettingsFor`).
 * - Signaling: the member joins its room through an in-process socket pair mounted on the
 *   object's own room logic (memory-socket.ts): no network hop, the same protocol and checks.
 *   Its WebSocket constructor opens that pair for the signaling URL and a real socket otherwise
 *   (raft sockets to other edge members).
 * - Raft traffic: tabs open raft WebSockets to `<origin>/raft?room=NAME` (the member's endpoint,
 *   told to the room through signaling); the Worker routes them here like signaling sockets.
 * - Time: the member's timers are workerd's own (`setTimeout` while the object is in memory), and
 *   an alarm every `alarmIntervalMs` wakes the object after an eviction or a restart so the member
 *   starts again from storage before any tab comes back. Alarms as the tick itself were measured
 *   and refused (README, "On workerd"): as steady as timers locally, but each `setAlarm` is a
 *   storage write, so 20 ticks a second would bill about 1.7 million writes a room a day, where
 *   timers cost nothing the open sockets did not already.
 * - Hibernation: nothing the member needs lives only in memory. After an eviction the next
 *   request or alarm starts it from storage under the member id its storage holds; a storage that
 *   was wiped, or a member set aside, gets a new id (its old vote is gone, TESTING.md 19).
 *
 * The member itself (core, driver, links) comes from the edge member module through
 * `StartEdgeMember`; this file owns only what is particular to a Durable Object.
 */
import type { MemberId } from '../core/types.js';
import type { Scheduler } from '../runtime/scheduler.js';
import { realScheduler } from '../runtime/scheduler.js';
import type { DurableObjectStorageLike } from '../storage/durable-object-api.js';
import { DurableObjectStorage } from '../storage/durable-object.js';
import type { DurableObjectStorageOptions } from '../storage/durable-object.js';
import type { Storage } from '../storage/storage.js';
import type { ServerWebSocket } from './host.js';
import type { MemorySocket } from './memory-socket.js';
import { edgeWebSocket, IN_PROCESS_ORIGIN, raftEndpoint } from './edge-rooms.js';
import type { EdgeRoomSettings, EdgeWebSocketConstructor } from './edge-rooms.js';

export { edgeSettingsFor, raftEndpoint } from './edge-rooms.js';
export type { EdgeRoomSettings } from './edge-rooms.js';

/** Where an edge member keeps its id and its log: the edge member module's `EdgeStorage`. */
export interface EdgeMemberStorage {
  /** The member id the storage holds, or null; an id in `avoid` is set aside (null). */
  memberId(avoid: ReadonlySet<MemberId>): Promise<MemberId | null>;
  open(options: {
    readonly room: string;
    readonly memberId: MemberId;
    readonly existing: boolean;
  }): Promise<{ readonly storage: Storage; readonly name: string }>;
}

/** A raft WebSocket as the edge member module takes it (socket-channel.ts's RaftSocket). */
export interface EdgeRaftSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: { readonly type: string; readonly data?: unknown }) => void,
  ): void;
}

/** What the edge member module hands back once its member runs. */
export interface EdgeMemberRuntime {
  /** A raft WebSocket a tab opened to this member (accepted, open). */
  acceptSocket(socket: EdgeRaftSocket): void;
  /** What the member's status says (JSON-safe). */
  status(): Promise<unknown>;
  close(): Promise<void>;
}

/** Everything the edge member module needs to run one member inside the object. */
export interface EdgeMemberLaunch {
  readonly room: string;
  readonly voter: boolean;
  readonly secret?: string;
  /** The room's signaling, in-process when opened with `WebSocket`. */
  readonly signalingUrl: string;
  readonly WebSocket: EdgeWebSocketConstructor;
  /** Where tabs open raft WebSockets to this member. */
  readonly endpoint: string;
  readonly storage: EdgeMemberStorage;
  readonly scheduler: Scheduler;
}

export type StartEdgeMember = (launch: EdgeMemberLaunch) => Promise<EdgeMemberRuntime>;

/** The parts of `state.storage` the host uses: the storage API and the object's alarm. */
export interface EdgeObjectStorage extends DurableObjectStorageLike {
  setAlarm(scheduledTimeMs: number): Promise<void>;
  getAlarm(): Promise<number | null>;
}

export interface EdgeMemberHostOptions {
  readonly room: string;
  readonly settings: EdgeRoomSettings;
  readonly storage: EdgeObjectStorage;
  readonly start: StartEdgeMember;
  /** Mounts the server end of an in-process signaling socket on the object's room logic. */
  readonly connectSignaling: (server: MemorySocket) => void;
  /** The room secret, looked up when the member starts; undefined for an open room. */
  readonly secret?: () => Promise<string | undefined>;
  /** Default 30 s. */
  readonly alarmIntervalMs?: number;
  /** No alarm is set again once the room had no other member for this long. Default 10 min. */
  readonly idleMs?: number;
  readonly storageOptions?: Omit<DurableObjectStorageOptions, 'prefix'>;
}

const ALARM_INTERVAL_MS = 30_000;
const IDLE_MS = 10 * 60_000;
/** Storage key of the member's raft endpoint, as the last request showed it. */
const ENDPOINT_KEY = 'edge/endpoint';

/** How the member of this object's current life was started. */
export type EdgeWake = 'request' | 'alarm';

/** Runs a room's edge member in its Durable Object: start, wake-ups, restarts. */
export class EdgeMemberHost {
  private running: Promise<EdgeMemberRuntime> | null = null;
  private runtime: EdgeMemberRuntime | null = null;
  private wokenBy: EdgeWake | null = null;
  private starts = 0;
  private lastError: string | null = null;
  private lastOthersAtMs = Date.now();
  private endpoint: string | null = null;
  /** When the next alarm is set for (null: fired, or not yet read from storage). */
  private alarmAtMs: number | null = null;
  private readonly alarmIntervalMs: number;
  private readonly idleMs: number;

  constructor(private readonly options: EdgeMemberHostOptions) {
    this.alarmIntervalMs = options.alarmIntervalMs ?? ALARM_INTERVAL_MS;
    this.idleMs = options.idleMs ?? IDLE_MS;
  }

  /**
   * Starts the member unless it runs (from storage, under the id it holds), and keeps the alarm
   * set. `origin` (the request's) names its raft endpoint; an alarm uses the one last stored.
   */
  ensureRunning(wake: EdgeWake, origin?: string): Promise<EdgeMemberRuntime> {
    if (origin !== undefined && this.endpoint === null) {
      const endpoint = raftEndpoint(origin, this.options.room);
      this.endpoint = endpoint;
      // Kept for a start by alarm, which has no request to read the origin from.
      void this.options.storage
        .transaction((txn) => txn.put({ [ENDPOINT_KEY]: endpoint }))
        .catch(() => undefined);
    }
    if (this.running === null) {
      this.wokenBy ??= wake;
      const running = this.launch();
      this.running = running;
      running.catch((error: unknown) => {
        this.lastError = String(error);
        if (this.running === running) this.running = null; // The next wake-up tries again.
      });
    }
    return this.running;
  }

  /** The object's alarm: start the member if it does not run, and set the next alarm. */
  async alarm(othersInRoom: boolean): Promise<void> {
    this.alarmAtMs = null; // This one has fired.
    await this.ensureRunning('alarm').catch(() => undefined);
    await this.keepAlarm(othersInRoom);
  }

  /** Sets the next alarm unless the room has been empty (but for this member) for `idleMs`. */
  async keepAlarm(othersInRoom: boolean): Promise<void> {
    const now = Date.now();
    if (othersInRoom) this.lastOthersAtMs = now;
    if (now - this.lastOthersAtMs > this.idleMs) return;
    // Asked of storage once a life, then known: the sweep calls this every second.
    this.alarmAtMs ??= await this.options.storage.getAlarm();
    if (this.alarmAtMs !== null && this.alarmAtMs > now) return;
    this.alarmAtMs = now + this.alarmIntervalMs;
    await this.options.storage.setAlarm(this.alarmAtMs).catch((error: unknown) => {
      this.alarmAtMs = null; // Not set: the next call tries again.
      throw error;
    });
  }

  /** Hands a raft WebSocket a tab opened to the member, starting the member first if need be. */
  async acceptSocket(socket: ServerWebSocket, origin: string): Promise<void> {
    try {
      const runtime = await this.ensureRunning('request', origin);
      runtime.acceptSocket(raftSocketOf(socket));
    } catch {
      socket.close(1011, 'the edge member is not running');
    }
  }

  /** Whether a member runs in this object now. */
  get isRunning(): boolean {
    return this.runtime !== null;
  }

  async status(): Promise<Record<string, unknown>> {
    const member = await this.runtime?.status().catch((error: unknown) => String(error));
    return {
      room: this.options.room,
      voter: this.options.settings.voter,
      running: this.runtime !== null,
      wokenBy: this.wokenBy,
      starts: this.starts,
      endpoint: this.endpoint,
      lastError: this.lastError,
      member: member ?? null,
    };
  }

  private async launch(): Promise<EdgeMemberRuntime> {
    const { storage: medium, room, settings } = this.options;
    if (this.endpoint === null) {
      const stored = await medium.transaction((txn) => txn.get(ENDPOINT_KEY));
      if (typeof stored === 'string') this.endpoint = stored;
    }
    this.starts++;
    const secret = await this.options.secret?.();
    const runtime = await this.options.start({
      room,
      voter: settings.voter,
      ...(secret === undefined ? {} : { secret }),
      signalingUrl: `${IN_PROCESS_ORIGIN}/`,
      WebSocket: edgeWebSocket((server) => this.options.connectSignaling(server)),
      endpoint: this.endpoint ?? raftEndpoint('http://127.0.0.1', room),
      storage: durableObjectEdgeStorage(medium, this.options.storageOptions),
      scheduler: realScheduler,
    });
    this.runtime = runtime;
    await this.keepAlarm(false).catch(() => undefined);
    return runtime;
  }
}

/**
 * A server WebSocket of workerd as a raft socket. workerd shows no send queue (no
 * `bufferedAmount`): it reads as 0, so the channel never waits for a drain and the mesh's own
 * bounded queues are what holds a slow tab back.
 */
function raftSocketOf(socket: ServerWebSocket): EdgeRaftSocket {
  return {
    get readyState() {
      return socket.readyState;
    },
    get bufferedAmount() {
      return socket.bufferedAmount ?? 0;
    },
    get binaryType() {
      return socket.binaryType ?? 'arraybuffer';
    },
    set binaryType(type: string) {
      socket.binaryType = type;
    },
    // workerd's send takes bytes as well as text; ServerWebSocket names only what signaling sends.
    send: (data) => (socket.send as (data: string | ArrayBuffer | Uint8Array) => void)(data),
    close: (code, reason) => socket.close(code, reason),
    addEventListener: (type, listener) => {
      // A server socket is open from the start; its events carry `type` as every DOM event does.
      if (type !== 'open') socket.addEventListener(type, listener as (event: unknown) => void);
    },
  };
}

/** Storage key naming the member whose log the object holds. */
const MEMBER_KEY = 'raft/member';
const memberPrefix = (memberId: MemberId): string => `raft/${memberId}/`;

/**
 * An edge member's storage in an object: the member named by `raft/member`, its log under
 * `raft/<id>/` (DurableObjectStorage). Setting a member aside deletes its log: nobody will read
 * it again, and an object's storage is billed.
 */
export function durableObjectEdgeStorage(
  medium: DurableObjectStorageLike,
  options: Omit<DurableObjectStorageOptions, 'prefix'> = {},
): EdgeMemberStorage {
  return {
    async memberId(avoid) {
      const named = await medium.transaction((txn) => txn.get(MEMBER_KEY));
      if (typeof named !== 'string') return null;
      // Named but never created (a crash between the two writes): no member yet.
      const held = await DurableObjectStorage.memberIdIn(medium, memberPrefix(named));
      if (held === named && !avoid.has(named)) return named;
      await deletePrefix(medium, memberPrefix(named));
      await medium.transaction((txn) => txn.delete([MEMBER_KEY]));
      return null;
    },
    async open({ memberId, existing }) {
      const prefix = memberPrefix(memberId);
      if (existing) {
        const storage = await DurableObjectStorage.open(medium, {
          ...options,
          prefix,
          expectedMemberId: memberId,
        });
        return { storage, name: prefix };
      }
      await medium.transaction((txn) => txn.put({ [MEMBER_KEY]: memberId }));
      const storage = await DurableObjectStorage.create(medium, memberId, { ...options, prefix });
      return { storage, name: prefix };
    },
  };
}

/** Deletes every key under `prefix`, in transactions of a bounded number of calls. */
async function deletePrefix(medium: DurableObjectStorageLike, prefix: string): Promise<void> {
  for (;;) {
    const keys = await medium.transaction(async (txn) => {
      const listed = [...(await txn.list({ prefix, limit: 128 })).keys()];
      if (listed.length > 0) await txn.delete(listed);
      return listed.length;
    });
    if (keys === 0) return;
  }
}
