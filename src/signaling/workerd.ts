/**
 * The signaling server on workerd (Cloudflare Workers), decision 9: a Worker that routes each
 * WebSocket to its room's Durable Object, which runs the same room logic as the Node host for
 * that one room. The room is read from the URL (`?room=`, which SignalingClient adds) because the
 * Worker must pick the object before any message is read; the object refuses a hello for another
 * room (rooms.ts), so a room never lives split across objects.
 *
 * Local: `npm run signal:workerd` (edge/workerd.capnp). Deploy: `wrangler deploy -c
 * edge/wrangler.toml`. Bindings: ROOMS (the Durable Object namespace of `SignalingRoom`),
 * SIGNAL_ROOM_SECRETS and SIGNAL_BOOTSTRAP_GRACE_MS (text, as the Node host's environment).
 *
 * Time: workerd's clock stands still while code runs and moves on with I/O (a message, a timer),
 * so the rooms read `Date.now()` per event, and hello timeouts and the grace are checked from a
 * timer, where the clock has moved.
 *
 * No hibernation: the rooms keep each connection's handshake (nonce, auth in flight), its rate
 * bucket and the room's bootstrap state in memory, and hello timeouts run on timers; a hibernated
 * object loses all of that. It would take serializing every connection into its socket attachment
 * and alarms for the timeouts, a second life for the room logic; for now an open room keeps its
 * object in memory, as a Node process would.
 *
 * Edge members: a room named by EDGE_ROOMS also runs a Raft member in its object, with its log in
 * the object's storage (workerd-edge.ts); `/raft?room=` WebSockets go to it, `GET /edge?room=`
 * shows its status, and the object's alarm starts it again after an eviction.
 */
import {
  createHostRooms,
  isWebSocketUpgrade,
  mountWebSocket,
  newHostCounters,
  startSweeps,
} from './host.js';
import type { ServerWebSocket } from './host.js';
import { readHostSettings } from './host-config.js';
import type { HostSettings } from './host-config.js';
import { ID_PATTERN } from './protocol.js';
import type { SignalingRooms } from './rooms.js';
import { secretLookup } from './room-secrets.js';
import type { MemorySocket } from './memory-socket.js';
import { firstStartOrTimeout } from './edge-rooms.js';
import { EdgeMemberHost, edgeSettingsFor } from './workerd-edge.js';
import type { EdgeObjectStorage, StartEdgeMember } from './workerd-edge.js';
import { startWorkerdEdgeMember } from './workerd-member.js';

/** A server WebSocket of workerd: it must be accepted before use. */
interface WorkerWebSocket extends ServerWebSocket {
  accept(): void;
}

/** workerd's global pair constructor: index 0 goes to the client, 1 stays with the server. */
declare const WebSocketPair: new () => { 0: WorkerWebSocket; 1: WorkerWebSocket };

interface DurableObjectStub {
  fetch(request: Request): Promise<Response>;
}

/** The ROOMS binding: a Durable Object per room name. */
export interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStub;
}

/** The parts of a Durable Object's state the room uses. */
export interface DurableObjectState {
  readonly storage: EdgeObjectStorage & {
    get(key: string): Promise<unknown>;
    put(key: string, value: boolean | string): Promise<void>;
  };
  blockConcurrencyWhile(callback: () => Promise<void>): Promise<void>;
}

/** The Worker's bindings (wrangler.toml / edge/workerd.capnp). */
export interface SignalingEnv {
  readonly ROOMS: DurableObjectNamespace;
  readonly SIGNAL_ROOM_SECRETS?: string;
  readonly SIGNAL_BOOTSTRAP_GRACE_MS?: string;
  /** Rooms with an edge member: `*`, `a,b` or JSON (see `edgeSettingsFor`). */
  readonly EDGE_ROOMS?: string;
  /** Milliseconds between the alarms that wake an evicted edge member; default 30000. */
  readonly EDGE_ALARM_MS?: string;
}

/** Storage key: the room had members when this was last written. */
const OCCUPIED_KEY = 'occupied';
/** Storage key: the room this object serves (an alarm has no URL to read it from). */
const ROOM_KEY = 'room';

/** The Worker: routes a WebSocket upgrade to the Durable Object of the room in its URL. */
export default {
  fetch(request: Request, env: SignalingEnv): Promise<Response> | Response {
    const isStatus = new URL(request.url).pathname === '/edge' && request.method === 'GET';
    if (!isStatus && !isWebSocketUpgrade(request)) {
      return textResponse(426, 'webraft signaling server: connect with a WebSocket');
    }
    const room = roomOf(request);
    if (room === null) {
      // A client that predates ?room= sends its room only in the hello, too late to route it.
      return textResponse(400, 'name the room in the URL: ?room=NAME (webraft >= 0.1 does)');
    }
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },
};

/** One room's signaling: the room logic for that room, with its sockets, and its edge member. */
export class SignalingRoom {
  /**
   * Runs a room's edge member: the edge member module; null starts none whatever EDGE_ROOMS says.
   * Tests set a stand-in before the first request.
   */
  static startEdgeMember: StartEdgeMember | null = startWorkerdEdgeMember;
  private readonly settings: HostSettings;
  private readonly counters = newHostCounters();
  private readonly startedAtMs = Date.now();
  private rooms: SignalingRooms | null = null;
  private stopSweeps: (() => void) | null = null;
  /** Whether storage says the room has members; null until read. */
  private occupied: boolean | null = null;
  /** The room this object served, as storage remembers it (for an alarm); null until read. */
  private storedRoom: string | null = null;
  private edge: EdgeMemberHost | null = null;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: SignalingEnv,
  ) {
    this.settings = readHostSettings((name) => binding(env, name));
    void state.blockConcurrencyWhile(async () => {
      this.occupied = (await state.storage.get(OCCUPIED_KEY)) === true;
      const room = await state.storage.get(ROOM_KEY);
      this.storedRoom = typeof room === 'string' ? room : null;
    });
  }

  /**
   * Accepts one WebSocket for this room (the Worker checked the upgrade and the room): signaling,
   * or with `/raft` a raft socket for the edge member; `GET /edge` answers the member's status.
   */
  async fetch(request: Request): Promise<Response> {
    const room = roomOf(request);
    if (room === null) return textResponse(400, 'name the room in the URL: ?room=NAME');
    const rooms = this.roomsFor(room);
    const url = new URL(request.url);
    const edge = this.edgeFor(room, rooms);
    if (url.pathname === '/edge') {
      const lookup = secretLookup(this.settings.secrets);
      return edgeStatusResponse(room, edge, async () => (await lookup(room)) !== undefined);
    }
    if (url.pathname === '/raft' && edge === null) {
      return textResponse(404, `room ${room} has no edge member`);
    }
    const running = edge?.ensureRunning('request', url.origin);
    running?.catch(() => undefined); // Reported by the member's status; retried on the next wake.
    // A signaling socket waits for the member's start (see firstStartOrTimeout).
    if (running !== undefined && url.pathname !== '/raft') await firstStartOrTimeout(running);
    const pair = new WebSocketPair();
    const server = pair[1];
    server.accept();
    if (url.pathname === '/raft') void edge?.acceptSocket(server, url.origin);
    else mountWebSocket(rooms, server, this.counters);
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit);
  }

  /** Wakes the edge member after an eviction or a restart (workerd-edge.ts). */
  async alarm(): Promise<void> {
    const room = this.storedRoom;
    if (room === null) return;
    const rooms = this.roomsFor(room);
    await this.edgeFor(room, rooms)?.alarm(this.othersInRoom(rooms));
  }

  /** The room logic and its sweeps, made on the first request or alarm; the room remembered. */
  private roomsFor(room: string): SignalingRooms {
    if (this.rooms === null) {
      const rooms = this.createRooms(room);
      this.rooms = rooms;
      this.stopSweeps ??= startSweeps(
        rooms,
        this.startedAtMs + rooms.limits.bootstrapGraceMs - Date.now(),
        () => this.afterSweep(rooms),
      );
    }
    if (this.storedRoom !== room) {
      this.storedRoom = room;
      this.state.storage.put(ROOM_KEY, room).catch(() => undefined);
    }
    return this.rooms;
  }

  /** The room's edge member host, when EDGE_ROOMS names the room and a member module is set. */
  private edgeFor(room: string, rooms: SignalingRooms): EdgeMemberHost | null {
    if (this.edge !== null) return this.edge;
    const settings = edgeSettingsFor(room, this.env.EDGE_ROOMS);
    const start = (this.constructor as typeof SignalingRoom).startEdgeMember;
    if (settings === null || start === null) return null;
    const alarmMs = Number(this.env.EDGE_ALARM_MS);
    const lookup = secretLookup(this.settings.secrets);
    this.edge = new EdgeMemberHost({
      room,
      settings,
      storage: this.state.storage,
      start,
      connectSignaling: (server: MemorySocket) => mountWebSocket(rooms, server, this.counters),
      secret: async () => lookup(room),
      ...(Number.isFinite(alarmMs) && alarmMs > 0 ? { alarmIntervalMs: alarmMs } : {}),
    });
    return this.edge;
  }

  /** Whether members other than the edge member are in the room. */
  private othersInRoom(rooms: SignalingRooms): boolean {
    const edgeMembers = this.edge?.isRunning === true ? 1 : 0;
    return rooms.stats().members > edgeMembers;
  }

  /**
   * The bootstrap grace guards the tabs of a running cluster, cut off by a restart, against a
   * newcomer that would start a second cluster before they are back. An object that starts for a
   * room nobody was in (the usual case: the first tab of a room wakes it) has no such tabs, so
   * only a room that storage says was occupied waits.
   */
  private createRooms(room: string): SignalingRooms {
    const graceMs = this.occupied === false ? { bootstrapGraceMs: 0 } : {};
    return createHostRooms({
      settings: this.settings,
      limits: graceMs,
      room,
      // Frozen while code runs, current in each event: what the rooms need (see file comment).
      now: () => Date.now(),
    });
  }

  /** Writes whether the room has members; stops the sweeps once nobody is connected. */
  private afterSweep(rooms: SignalingRooms): void {
    const { members, connections } = rooms.stats();
    const occupied = members > 0;
    if (occupied !== this.occupied) {
      this.occupied = occupied;
      void this.state.storage.put(OCCUPIED_KEY, occupied).catch(() => {
        this.occupied = null; // written again on the next sweep
      });
    }
    this.edge?.keepAlarm(this.othersInRoom(rooms)).catch(() => undefined);
    if (connections === 0) {
      this.stopSweeps?.();
      this.stopSweeps = null;
    }
  }
}

/** `GET /edge?room=`: the edge member's status, or that the room has none. */
/**
 * `GET /edge?room=`: the edge member's status, or that the room has none. Anyone can ask, so a
 * room with a secret shows only whether its member runs: its members and log are the room's.
 */
async function edgeStatusResponse(
  room: string,
  edge: EdgeMemberHost | null,
  hasSecret: () => Promise<boolean>,
): Promise<Response> {
  const full = (await edge?.status()) ?? { room, running: false, member: null };
  const status = (await hasSecret()) ? { room, running: full.running, member: null } : full;
  return new Response(JSON.stringify(status), { headers: { 'content-type': 'application/json' } });
}

function roomOf(request: Request): string | null {
  const room = new URL(request.url).searchParams.get('room');
  return room !== null && ID_PATTERN.test(room) ? room : null;
}

function binding(env: SignalingEnv, name: string): string | undefined {
  const value: unknown = (env as unknown as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

function textResponse(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain' } });
}
