/**
 * The edge member of a room, hosted by that room's signaling Durable Object on workerd (issue
 * 13): the object that relays the room's signaling also runs one Raft member whose log is in the
 * object's own storage (DurableObjectStorage), so the room keeps its state, and a quorum, when
 * every tab is closed.
 *
 * - Configuration: the EDGE_ROOMS binding names the rooms that have one (`edgeSettingsFor`).
 * - Signaling: the member joins its room through an in-process socket pair mounted on the
 *   object's own room logic (memory-socket.ts): no network hop, the same protocol and checks.
 * - Raft traffic: tabs open raft WebSockets to `<origin>/raft?room=NAME` (the member's endpoint,
 *   told to the room through signaling); the Worker routes them here like signaling sockets.
 * - Time: the member's timers are workerd's own (`setTimeout` while the object is in memory), and
 *   an alarm every `alarmIntervalMs` wakes the object after an eviction or a restart so the member
 *   starts again from storage before any tab comes back. Alarms as the tick itself were measured
 *   and refused (README, "On workerd"): each `setAlarm` is a storage write, so 20 ticks a second
 *   would bill about 1.7 million writes a room a day, where timers cost nothing the open sockets
 *   did not already.
 * - Hibernation: nothing the member needs lives only in memory. After an eviction the next
 *   request or alarm starts it from storage under the member id its storage holds; a storage that
 *   was wiped gets a new id (its old vote is gone with it, TESTING.md 19).
 *
 * The member itself (core, driver, transport over raft sockets) comes from the edge member module
 * through `StartEdgeMember`; this file owns only what is particular to a Durable Object.
 */
import type { MemberId } from '../core/types.js';
import type { Scheduler } from '../runtime/scheduler.js';
import { realScheduler } from '../runtime/scheduler.js';
import type { DurableObjectStorageLike } from '../storage/durable-object-api.js';
import { DurableObjectStorage } from '../storage/durable-object.js';
import type { Storage } from '../storage/storage.js';
import type { WebSocketConstructor } from './client.js';
import type { ServerWebSocket } from './host.js';
import { memoryWebSocket } from './memory-socket.js';
import type { MemorySocket } from './memory-socket.js';
import { ID_PATTERN } from './protocol.js';

/** How a room's edge member takes part. */
export interface EdgeRoomSettings {
  /** Whether it asks to vote (autopilot decides); default true. */
  readonly voter: boolean;
}

/**
 * The edge settings of `room` from the EDGE_ROOMS binding, or null when it has no edge member:
 * `*` (every room), a comma-separated list of rooms, or JSON `{"room": {"voter": false}, "*": {}}`.
 */
export function edgeSettingsFor(
  room: string,
  binding: string | undefined,
): EdgeRoomSettings | null {
  const text = binding?.trim() ?? '';
  if (text === '') return null;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null; // A broken setting runs no member rather than one with settings nobody meant.
    }
    if (typeof parsed !== 'object' || parsed === null) return null;
    const table = parsed as Record<string, unknown>;
    const entry = Object.hasOwn(table, room) ? table[room] : table['*'];
    if (typeof entry !== 'object' || entry === null) return null;
    return { voter: (entry as { voter?: unknown }).voter !== false };
  }
  const rooms = text.split(',').map((name) => name.trim());
  return rooms.includes('*') || rooms.includes(room) ? { voter: true } : null;
}

/** What the edge member module hands back once its member runs. */
export interface EdgeMemberRuntime {
  /** A raft WebSocket a tab opened to this member (accepted, open). */
  acceptSocket(socket: ServerWebSocket): void;
  /** What status shows about the member (JSON-safe). */
  status(): Record<string, unknown>;
  close(): Promise<void>;
}

/** Everything the edge member module needs to run one member inside the object. */
export interface EdgeMemberLaunch {
  readonly room: string;
  readonly memberId: MemberId;
  readonly storage: Storage;
  readonly voter: boolean;
  readonly secret?: string;
  /** The room's signaling, in-process: open `url` with `WebSocket`. */
  readonly signaling: { readonly url: string; readonly WebSocket: WebSocketConstructor };
  /** Where tabs open raft WebSockets to this member. */
  readonly endpoint: string;
  readonly scheduler: Scheduler;
  /** The member stopped by itself (a failed write): the host starts it again from storage. */
  readonly onStopped: (error: Error) => void;
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
}

const ALARM_INTERVAL_MS = 30_000;
const IDLE_MS = 10 * 60_000;
/** Storage key of the member's raft endpoint, as the last request showed it. */
const ENDPOINT_KEY = 'edge/endpoint';
/** Prefix of an edge member's id: status and the demo tell edge members by it. */
export const EDGE_MEMBER_PREFIX = 'edge-';

/** How the member of this object's current life was started. */
export type EdgeWake = 'request' | 'alarm';

/** Runs a room's edge member in its Durable Object: start, wake-ups, restarts. */
export class EdgeMemberHost {
  private running: Promise<EdgeMemberRuntime> | null = null;
  private runtime: EdgeMemberRuntime | null = null;
  private memberId: MemberId | null = null;
  private wokenBy: EdgeWake | null = null;
  private starts = 0;
  private lastError: string | null = null;
  private lastOthersAtMs = Date.now();
  private endpoint: string | null = null;
  private readonly alarmIntervalMs: number;
  private readonly idleMs: number;

  constructor(private readonly options: EdgeMemberHostOptions) {
    this.alarmIntervalMs = options.alarmIntervalMs ?? ALARM_INTERVAL_MS;
    this.idleMs = options.idleMs ?? IDLE_MS;
  }

  /**
   * Starts the member unless it runs (from storage, under the id it holds), and keeps the alarm
   * set. `origin` (the request's) names its raft endpoint; an alarm reuses the stored one.
   */
  ensureRunning(wake: EdgeWake, origin?: string): Promise<EdgeMemberRuntime> {
    if (origin !== undefined && this.endpoint === null) {
      this.endpoint = raftEndpoint(origin, this.options.room);
      // Kept for a start by alarm, which has no request to read the origin from.
      const endpoint = this.endpoint;
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
    await this.ensureRunning('alarm').catch(() => undefined);
    await this.keepAlarm(othersInRoom);
  }

  /** Sets the next alarm unless the room has been empty (but for this member) for `idleMs`. */
  async keepAlarm(othersInRoom: boolean): Promise<void> {
    const now = Date.now();
    if (othersInRoom) this.lastOthersAtMs = now;
    if (now - this.lastOthersAtMs > this.idleMs) return;
    const set = await this.options.storage.getAlarm();
    if (set === null || set <= now) await this.options.storage.setAlarm(now + this.alarmIntervalMs);
  }

  /** Hands a raft WebSocket a tab opened to the member, starting the member first if need be. */
  async acceptSocket(socket: ServerWebSocket, origin: string): Promise<void> {
    try {
      const runtime = await this.ensureRunning('request', origin);
      runtime.acceptSocket(socket);
    } catch {
      socket.close(1011, 'the edge member is not running');
    }
  }

  status(): Record<string, unknown> {
    return {
      room: this.options.room,
      memberId: this.memberId,
      voter: this.options.settings.voter,
      running: this.runtime !== null,
      wokenBy: this.wokenBy,
      starts: this.starts,
      endpoint: this.endpoint,
      lastError: this.lastError,
      member: this.runtime?.status() ?? null,
    };
  }

  private async launch(): Promise<EdgeMemberRuntime> {
    const { storage: medium, room, settings } = this.options;
    if (this.endpoint === null) {
      const stored = await medium.transaction((txn) => txn.get(ENDPOINT_KEY));
      if (typeof stored === 'string') this.endpoint = stored;
    }
    const existing = await DurableObjectStorage.memberIdIn(medium);
    const storage =
      existing === null
        ? await DurableObjectStorage.create(medium, newEdgeMemberId())
        : await DurableObjectStorage.open(medium, { expectedMemberId: existing });
    this.memberId = storage.memberId;
    this.starts++;
    const secret = await this.options.secret?.();
    const runtime = await this.options.start({
      room,
      memberId: storage.memberId,
      storage,
      voter: settings.voter,
      ...(secret === undefined ? {} : { secret }),
      signaling: {
        url: 'ws://in-process/',
        WebSocket: memoryWebSocket((server) => this.options.connectSignaling(server)),
      },
      endpoint: this.endpoint ?? raftEndpoint('http://in-process', room),
      scheduler: realScheduler,
      onStopped: (error) => this.stopped(error),
    });
    this.runtime = runtime;
    await this.keepAlarm(false).catch(() => undefined);
    return runtime;
  }

  /** The member stopped itself: drop it; the next request or alarm starts it from storage. */
  private stopped(error: Error): void {
    this.lastError = `${error.name}: ${error.message}`;
    const runtime = this.runtime;
    this.runtime = null;
    this.running = null;
    void runtime?.close().catch(() => undefined);
  }
}

/** `ws(s)://host/raft?room=NAME` for a request that reached the object at `origin`. */
export function raftEndpoint(origin: string, room: string): string {
  const url = new URL(origin);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = '/raft';
  url.search = `?room=${encodeURIComponent(room)}`;
  return url.toString();
}

/** A fresh member id: never one an earlier, wiped storage of this room voted under. */
function newEdgeMemberId(): MemberId {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  const id = `${EDGE_MEMBER_PREFIX}${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (!ID_PATTERN.test(id)) throw new Error(`edge member id ${id} does not fit the protocol`);
  return id;
}
