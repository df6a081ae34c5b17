/**
 * The signaling server on Deno (decision 9): the same room logic as the Node host, on `Deno.serve`
 * and `Deno.upgradeWebSocket`. Deno resolves `./x.js` literally while our sources are `.ts`, so it
 * runs from a bundle (scripts/build-edge.ts), which Deno Deploy takes as it is:
 * `npm run signal:deno`, or `deno run --allow-net --allow-env=… dist/edge/signaling-deno.js`.
 *
 * Environment: SIGNAL_PORT (default 8787; 0 picks a free one), SIGNAL_HOST (default 127.0.0.1),
 * SIGNAL_ROOM_SECRETS and SIGNAL_BOOTSTRAP_GRACE_MS as for Node (host-config.ts). On Deno Deploy
 * the platform chooses the address and the port settings are ignored.
 *
 * Rooms live in this process's memory, so every tab of a room must reach the same process: one
 * `deno run` does; a platform that spreads connections over several isolates or regions (Deno
 * Deploy) splits a room whose tabs land apart, and each part could bootstrap a cluster of its own.
 */
import {
  createHostRooms,
  GOING_AWAY,
  isWebSocketUpgrade,
  mountWebSocket,
  newHostCounters,
  startSweeps,
} from './host.js';
import type { ServerWebSocket, ServerWebSocketEvent } from './host.js';
import { portFrom, readHostSettings } from './host-config.js';
import type { HostSettings } from './host-config.js';

/** The part of the `Deno` global this host uses (no Deno types in a Node-typed project). */
export interface DenoRuntime {
  readonly env: { get(name: string): string | undefined };
  serve(
    options: {
      readonly hostname: string;
      readonly port: number;
      readonly onListen: (address: { readonly hostname: string; readonly port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  upgradeWebSocket(
    request: Request,
    options: { readonly idleTimeout: number },
  ): { readonly socket: DenoWebSocket; readonly response: Response };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
}

export interface DenoWebSocket extends ServerWebSocket {
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: ServerWebSocketEvent) => void,
  ): void;
}

/** Seconds between Deno's own WebSocket pings; no pong in that time closes the socket. */
const IDLE_TIMEOUT_S = 30;
const SIGNAL_PORT_DEFAULT = 8787;

/** What a host built on the signaling server adds to it (the Deno edge host, src/edge/deno.ts). */
export interface DenoServeHooks {
  /**
   * Sees every request first: a response for a request it serves itself (another path), null to
   * leave it to signaling (a promise of null: once the host is ready for it).
   */
  readonly route?: (
    request: Request,
    url: URL,
    signaling: DenoSignaling,
  ) => Response | Promise<Response | null> | null;
  /** Once the server listens, with its address. */
  readonly listening?: (
    address: { readonly hostname: string; readonly port: number },
    signaling: DenoSignaling,
  ) => void;
  /** On SIGINT or SIGTERM, before the rooms close. */
  readonly stopping?: () => Promise<void>;
}

/** The server's rooms, for a host that joins members to them in-process. */
export interface DenoSignaling {
  readonly settings: HostSettings;
  /** Connects an open server socket to the rooms, as a network socket is. */
  mount(socket: ServerWebSocket): void;
}

/** Serves the signaling rooms on `deno` until SIGINT or SIGTERM. */
export function serveSignalingOnDeno(deno: DenoRuntime, hooks: DenoServeHooks = {}): DenoSignaling {
  const settings = readHostSettings((name) => deno.env.get(name));
  const rooms = createHostRooms({ settings });
  const stopSweeps = startSweeps(rooms);
  const counters = newHostCounters();
  // Made before serving, so every hook gets it, however early Deno calls them.
  const signaling: DenoSignaling = {
    settings,
    mount: (socket) => mountWebSocket(rooms, socket, counters),
  };
  const server = deno.serve(
    {
      hostname: deno.env.get('SIGNAL_HOST') || '127.0.0.1',
      port: portFrom(deno.env.get('SIGNAL_PORT'), SIGNAL_PORT_DEFAULT),
      onListen: ({ hostname, port }) => {
        const host = hostname.includes(':') ? `[${hostname}]` : hostname;
        const secretRooms = Object.keys(settings.secrets ?? {}).length;
        console.log(
          `webraft signaling server (Deno) listening on ws://${host}:${port} ` +
            `(${secretRooms} rooms with secrets; bootstrappers named from ` +
            `${rooms.limits.bootstrapGraceMs} ms after start)`,
        );
        hooks.listening?.({ hostname, port }, signaling);
      },
    },
    async (request) => {
      const routed = await hooks.route?.(request, new URL(request.url), signaling);
      if (routed !== undefined && routed !== null) return routed;
      if (!isWebSocketUpgrade(request)) {
        return new Response('webraft signaling server: connect with a WebSocket\n', {
          status: 426,
          headers: { upgrade: 'websocket' },
        });
      }
      const upgraded = upgradeOrNull(deno, request);
      if (upgraded === null) return new Response('not a WebSocket handshake\n', { status: 400 });
      const { socket, response } = upgraded;
      // Sending before the socket opens throws in Deno; no message can arrive before it either.
      socket.addEventListener('open', () => mountWebSocket(rooms, socket, counters));
      return response;
    },
  );
  let stopped = false;
  const shutdown = (): void => {
    if (stopped) return;
    stopped = true;
    void (hooks.stopping?.() ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        stopSweeps();
        rooms.closeAll(GOING_AWAY, 'server shutting down');
        return server.shutdown();
      })
      .finally(() => deno.exit(0));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    try {
      deno.addSignalListener(signal, shutdown);
    } catch (_unsupported) {
      // A platform that manages the process (Deno Deploy) may not offer signals; it stops us.
    }
  }
  return signaling;
}

/**
 * Upgrades `request` to a WebSocket, or null when it is no handshake. Deno pings for us
 * (`idleTimeout`): a dead TCP connection (a closed laptop lid) is found as on Node.
 */
export function upgradeOrNull(
  deno: DenoRuntime,
  request: Request,
): ReturnType<DenoRuntime['upgradeWebSocket']> | null {
  try {
    return deno.upgradeWebSocket(request, { idleTimeout: IDLE_TIMEOUT_S });
  } catch (_notAHandshake) {
    return null;
  }
}
