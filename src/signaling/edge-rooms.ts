/**
 * What every host that runs edge members beside its signaling rooms shares (workerd's Durable
 * Object, workerd-edge.ts; Deno, src/edge/deno.ts): which rooms have one (EDGE_ROOMS), where tabs
 * dial it (`/raft?room=NAME` on the signaling origin), and the in-process socket pair on which it
 * joins its room's signaling without a network hop.
 */
import { MemorySocket } from './memory-socket.js';

/** How a room's edge member takes part. */
export interface EdgeRoomSettings {
  /** Whether it asks to vote (autopilot prefers it); default true. false: it never votes. */
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

/** A socket constructor for signaling and raft sockets alike. */
export type EdgeWebSocketConstructor = new (url: string) => MemorySocket | WebSocket;

/** The signaling URL that opens the in-process pair (SignalingClient adds `?room=`). */
export const IN_PROCESS_ORIGIN = 'ws://in-process';

/**
 * The sockets of an edge member that lives with its room's signaling: the in-process pair for the signaling URL, the
 * runtime's WebSocket for anything else (raft sockets to other edge members).
 */
export function edgeWebSocket(accept: (server: MemorySocket) => void): EdgeWebSocketConstructor {
  return class {
    constructor(url: string) {
      if (new URL(url).origin !== IN_PROCESS_ORIGIN) return new WebSocket(url);
      const { client, server } = MemorySocket.pair();
      accept(server);
      return client;
    }
  } as unknown as EdgeWebSocketConstructor;
}

/** `ws(s)://host/raft?room=NAME` for a request that reached the object at `origin`. */
export function raftEndpoint(origin: string, room: string): string {
  const url = new URL(origin);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = '/raft';
  url.search = `?room=${encodeURIComponent(room)}`;
  return url.toString();
}

/** How long a signaling socket waits for its room's co-hosted member to start, at most. */
export const FIRST_START_WAIT_MS = 10_000;

/**
 * Resolves once `started` settles (either way) or after `FIRST_START_WAIT_MS`. A host that runs a
 * room's edge member holds the room's signaling sockets this long: one that came first must not
 * find the room empty and be named its bootstrapper while the member that holds the room's log is
 * still opening it (with the bootstrap grace at 0, that would start a second cluster).
 */
export function firstStartOrTimeout(started: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FIRST_START_WAIT_MS);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    started.then(done, done);
  });
}
