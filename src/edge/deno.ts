/**
 * The edge member on Deno (issue 13): one `deno run` process serves the signaling rooms (as
 * signaling-deno.js does) and runs an edge member for each room EDGE_ROOMS names, beside its room
 * in this process, so the room keeps its state, and a quorum, with every tab closed.
 *
 *   EDGE_ROOMS=demo npm run edge:deno
 *   deno run <DENO_EDGE_PERMISSIONS> dist/edge/edge-deno.js   (the bundle, scripts/build-edge.ts)
 *
 * - Storage: FileStorage through Deno's `node:fs`, the one the Node hosts use, in
 *   `<EDGE_DATA_DIR>/<room>-edge` (default `~/.webraft/<room>-edge`, the Node edge member's
 *   default too, so either host can take over the other's directory; its lock keeps them from
 *   running at once). It passes the storage conformance suite inside Deno
 *   (test/unit/storage/file-deno.test.ts). Not Deno KV: a KV value holds 64 KiB and an atomic
 *   write 800 KiB, so a snapshot install would need several writes and an order of its own, where
 *   files already have a journal.
 * - Signaling: the member joins its room through an in-process socket pair mounted on this
 *   server's rooms (edge-rooms.ts), as the workerd host's member does.
 * - Raft traffic: tabs open raft WebSockets to `<origin>/raft?room=NAME` on the same port; the
 *   origin is where the server listens, or EDGE_PUBLIC_URL behind a proxy (wss:// with TLS).
 * - Time: Deno's timers. The process runs until stopped, so nothing needs waking up.
 * - `GET /edge?room=NAME` answers the member's status (only whether it runs, for a room with a
 *   secret), as on workerd.
 *
 * EDGE_ROOMS is what workerd reads: `demo`, `a,b`, JSON `{"a": {"voter": false}}`, or `*`. Named
 * rooms start with the process; under `*`, a room's member starts when the room's first socket
 * arrives, for at most EDGE_ROOMS_MAX rooms (default 64). A member that fails to start (its
 * directory locked by another process, a damaged log) is retried with backoff and its error shown
 * in its status. Not for Deno Deploy: it has no writable files, and spreads one room's sockets
 * over isolates (see deno-host.ts).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { dataDirMember, fileStorageOpener } from '../node/file-host.js';
import {
  edgeSettingsFor,
  edgeWebSocket,
  firstStartOrTimeout,
  IN_PROCESS_ORIGIN,
  raftEndpoint,
} from '../signaling/edge-rooms.js';
import type { EdgeRoomSettings } from '../signaling/edge-rooms.js';
import { serveSignalingOnDeno, upgradeOrNull } from '../signaling/deno-host.js';
import type { DenoRuntime, DenoSignaling } from '../signaling/deno-host.js';
import { isWebSocketUpgrade } from '../signaling/host.js';
import { ID_PATTERN } from '../signaling/protocol.js';
import type { RaftSocket, RaftSocketConstructor } from '../transport/websocket/socket-channel.js';
import { SOCKET_CLOSE } from '../transport/websocket/socket-channel.js';
import { startEdgeMember } from './member.js';
import type { EdgeMember } from './member.js';

/** Backoff between attempts to start a room's member: doubling up to the last. */
const RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** What the host reads from its environment, besides signaling's own settings. */
export interface DenoEdgeSettings {
  /** EDGE_ROOMS, as edgeSettingsFor reads it. */
  readonly rooms: string;
  /** The rooms it names outright, started with the process. */
  readonly named: readonly string[];
  /** EDGE_DATA_DIR: where each room's directory goes. */
  readonly dataRoot: string;
  /** EDGE_PUBLIC_URL: the origin tabs dial, when not where the server listens. */
  readonly publicUrl: string | null;
  /** EDGE_ROOMS_MAX: most rooms with a member (`*` makes one per room a socket names). */
  readonly roomsMax: number;
}

const EDGE_ROOMS_MAX_DEFAULT = 64;

export function readDenoEdgeSettings(read: (name: string) => string | undefined): DenoEdgeSettings {
  const rooms = read('EDGE_ROOMS')?.trim() ?? '';
  if (rooms === '') {
    throw new RangeError(
      'EDGE_ROOMS must name the rooms that get an edge member, e.g. EDGE_ROOMS=demo',
    );
  }
  let named: string[];
  try {
    named = namedEdgeRooms(rooms);
  } catch (error) {
    throw new RangeError(`EDGE_ROOMS is not valid JSON: ${String(error)}`, { cause: error });
  }
  const publicUrl = read('EDGE_PUBLIC_URL')?.trim() || null;
  if (publicUrl !== null && !/^(https?|wss?):\/\//.test(publicUrl)) {
    throw new RangeError(`EDGE_PUBLIC_URL must be an http(s):// or ws(s):// URL, got ${publicUrl}`);
  }
  const roomsMaxText = read('EDGE_ROOMS_MAX')?.trim() || String(EDGE_ROOMS_MAX_DEFAULT);
  const roomsMax = Number(roomsMaxText);
  if (!Number.isSafeInteger(roomsMax) || roomsMax < 1) {
    throw new RangeError(`EDGE_ROOMS_MAX must be a whole number >= 1, got ${roomsMaxText}`);
  }
  return {
    rooms,
    named,
    dataRoot: read('EDGE_DATA_DIR')?.trim() || join(homedir(), '.webraft'),
    publicUrl,
    roomsMax,
  };
}

/** The rooms EDGE_ROOMS names outright (not `*`), started with the process. */
export function namedEdgeRooms(rooms: string): string[] {
  const text = rooms.trim();
  const names = text.startsWith('{')
    ? Object.keys(JSON.parse(text) as Record<string, unknown>)
    : text.split(',').map((name) => name.trim());
  return names.filter((name) => name !== '*' && ID_PATTERN.test(name));
}

/** One room's edge member as the host runs it. */
class RoomEdge {
  private member: EdgeMember | null = null;
  private starting: Promise<void> | null = null;
  private attempts = 0;
  private lastError: string | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private tried!: () => void;
  /** Settles once the first start ended, started or not (then retried in the background). */
  readonly firstStart = new Promise<void>((resolve) => (this.tried = resolve));

  constructor(
    private readonly room: string,
    private readonly settings: EdgeRoomSettings,
    private readonly launch: (room: string, settings: EdgeRoomSettings) => Promise<EdgeMember>,
  ) {}

  /** Starts the member unless it runs or is starting; failures retry with backoff. */
  ensure(): void {
    if (this.member !== null || this.starting !== null || this.retry !== null || this.stopped) {
      return;
    }
    this.starting = this.launch(this.room, this.settings).then(
      (member) => {
        this.tried();
        this.member = member;
        this.starting = null;
        this.attempts = 0;
        this.lastError = null;
        if (this.stopped) void member.close({ leave: false });
      },
      (error: unknown) => {
        this.tried();
        this.starting = null;
        this.lastError = String(error);
        console.error(`edge member of ${this.room} did not start: ${this.lastError}`);
        if (this.stopped) return;
        const delay = RETRY_MS[Math.min(this.attempts++, RETRY_MS.length - 1)]!;
        this.retry = setTimeout(() => {
          this.retry = null;
          this.ensure();
        }, delay);
      },
    );
  }

  acceptSocket(socket: RaftSocket): void {
    if (this.member === null) {
      // Not running yet: the dialer redials, by which time it may be.
      socket.close(SOCKET_CLOSE.normal, 'starting');
      this.ensure();
      return;
    }
    this.member.acceptSocket(socket);
  }

  async status(withMember: boolean): Promise<Record<string, unknown>> {
    const running = this.member !== null;
    const member =
      withMember && this.member !== null
        ? await this.member.status().catch((error: unknown) => String(error))
        : null;
    return {
      room: this.room,
      voter: this.settings.voter,
      running,
      endpoint: this.member?.endpoint ?? null,
      lastError: withMember ? this.lastError : null,
      member,
    };
  }

  /** Stops the member without leaving the room: a restart brings it back as itself. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.tried(); // Nobody waits for a start that will not come.
    if (this.retry !== null) clearTimeout(this.retry);
    await this.starting;
    await this.member?.close({ leave: false });
  }
}

/** Serves signaling and the edge members of EDGE_ROOMS on `deno` until SIGINT or SIGTERM. */
export function serveEdgeOnDeno(deno: DenoRuntime): void {
  const edgeSettings = readDenoEdgeSettings((name) => deno.env.get(name));
  const edges = new Map<string, RoomEdge>();
  let origin: string | null = edgeSettings.publicUrl;
  // Handed to each hook: Deno may call onListen before serveSignalingOnDeno has returned.
  let signaling: DenoSignaling | null = null;

  const launch = (room: string, settings: EdgeRoomSettings): Promise<EdgeMember> => {
    if (signaling === null) return Promise.reject(new Error('signaling is not serving yet'));
    const rooms = signaling;
    const dataDir = join(edgeSettings.dataRoot, `${room}-edge`);
    const secret = rooms.settings.secrets?.[room];
    return startEdgeMember({
      room,
      signalingUrl: `${IN_PROCESS_ORIGIN}/`,
      endpoint: raftEndpoint(origin ?? 'http://127.0.0.1', room),
      voter: settings.voter,
      storage: {
        memberId: (avoid) => dataDirMember(dataDir, avoid),
        open: fileStorageOpener(dataDir),
      },
      WebSocket: edgeWebSocket((server) => rooms.mount(server)) as unknown as RaftSocketConstructor,
      ...(secret === undefined ? {} : { secret }),
    });
  };

  let refusedRooms = 0;
  /**
   * The room's edge, made (not started) on first need; null when EDGE_ROOMS leaves it out, or
   * when `*` has already made EDGE_ROOMS_MAX of them: every name a client sends would otherwise
   * cost a member and a directory.
   */
  const edgeOf = (room: string | null): RoomEdge | null => {
    if (room === null || !ID_PATTERN.test(room)) return null;
    let edge = edges.get(room);
    if (edge === undefined) {
      const settings = edgeSettingsFor(room, edgeSettings.rooms);
      if (settings === null) return null;
      if (edges.size >= edgeSettings.roomsMax) {
        if (refusedRooms++ === 0) {
          console.error(
            `webraft edge members (Deno): as many rooms as EDGE_ROOMS_MAX ` +
              `(${edgeSettings.roomsMax}) have a member; more rooms get none`,
          );
        }
        return null;
      }
      edge = new RoomEdge(room, settings, launch);
      edges.set(room, edge);
    }
    return edge;
  };

  serveSignalingOnDeno(deno, {
    route: (request, url, rooms) => {
      signaling = rooms;
      const room = url.searchParams.get('room');
      if (url.pathname === '/edge' && request.method === 'GET') {
        // Asking makes no member: only sockets of the room do.
        const edge = room === null ? undefined : edges.get(room);
        return edgeStatus(room, edge ?? null, rooms.settings.secrets?.[room ?? ''] !== undefined);
      }
      const isSocket = isWebSocketUpgrade(request);
      // Only a room's sockets make its member (a `*` room's): a plain GET with a name does not.
      const edge = isSocket ? edgeOf(room) : null;
      if (url.pathname !== '/raft') {
        if (origin === null || edge === null) return null;
        edge.ensure(); // A room's first socket starts its member (`*`).
        return firstStartOrTimeout(edge.firstStart).then(() => null);
      }
      if (edge === null) return text(404, `room ${room ?? '(none)'} has no edge member`);
      const upgraded = upgradeOrNull(deno, request);
      if (upgraded === null) return text(400, 'not a WebSocket handshake');
      const socket = upgraded.socket as unknown as RaftSocket;
      // The socket channel takes an open socket; Deno opens it once the response is sent.
      upgraded.socket.addEventListener('open', () => edge.acceptSocket(socket));
      return upgraded.response;
    },
    listening: ({ hostname, port }, rooms) => {
      signaling = rooms;
      origin ??= `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
      const { named } = edgeSettings;
      console.log(
        `webraft edge members (Deno): ${named.length > 0 ? named.join(', ') : 'none yet'}` +
          `${edgeSettings.rooms.includes('*') ? ' (and every room on its first socket)' : ''}; ` +
          `data in ${edgeSettings.dataRoot}, raft sockets at ${raftEndpoint(origin, 'NAME')}`,
      );
      for (const room of named) edgeOf(room)?.ensure();
    },
    stopping: async () => {
      await Promise.all([...edges.values()].map((edge) => edge.stop()));
      if (edges.size > 0)
        console.log(`webraft edge members (Deno): stopped ${[...edges.keys()].join(', ')}`);
    },
  });
}

/** `GET /edge?room=`: the member's status; a room with a secret shows only whether it runs. */
async function edgeStatus(room: string | null, edge: RoomEdge | null, secret: boolean) {
  const status = (await edge?.status(!secret)) ?? { room, running: false, member: null };
  return new Response(JSON.stringify(status), { headers: { 'content-type': 'application/json' } });
}

function text(status: number, body: string): Response {
  return new Response(`${body}\n`, { status, headers: { 'content-type': 'text/plain' } });
}

const deno = (globalThis as { Deno?: DenoRuntime }).Deno;
if (deno !== undefined) serveEdgeOnDeno(deno);
