/**
 * The signaling server on Node: the runtime-agnostic room logic (rooms.ts) mounted on a `ws`
 * WebSocket server. This file owns what is Node's: the socket server and its frame size bound,
 * timers (hello timeouts, WebSocket-level heartbeats), back-pressure on slow readers, shutdown.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { createHostRooms, GOING_AWAY, roomConnection, startSweeps } from './host.js';
import { bootstrapGraceMsFrom, portFrom } from './host-config.js';
import type { SignalingLimits } from './limits.js';
import type { SignalingRooms } from './rooms.js';
import type { RoomSecrets } from './room-secrets.js';
import type { SignalingStats } from './rooms.js';

export interface SignalingServerOptions {
  /** TCP port; 0 picks a free one. Default: env SIGNAL_PORT, else 8787. */
  readonly port?: number;
  /** Interface to listen on; default 127.0.0.1 (put a TLS proxy in front to expose it). */
  readonly host?: string;
  readonly secrets?: RoomSecrets;
  /** Bounds; `bootstrapGraceMs` defaults to env SIGNAL_BOOTSTRAP_GRACE_MS, else limits.ts's. */
  readonly limits?: Partial<SignalingLimits>;
}

/** Room statistics plus what only the Node host sees. */
export interface SignalingServerStats extends SignalingStats {
  /** Connections dropped because they did not read what was sent to them. */
  readonly slowConsumersDropped: number;
  /** Connections dropped because they stopped answering WebSocket pings. */
  readonly heartbeatsMissed: number;
}

export interface SignalingServer {
  /** `ws://host:port`, ready to hand to SignalingClient. */
  readonly url: string;
  readonly port: number;
  /** The bounds in force (the defaults, the environment's and the options' overrides). */
  readonly limits: SignalingLimits;
  /** Closes every connection and the listening socket. */
  close(): Promise<void>;
  stats(): SignalingServerStats;
}

export const SIGNAL_PORT_DEFAULT = 8787;
const SIGNAL_HOST_DEFAULT = '127.0.0.1';
/** WebSocket-level ping period: finds dead TCP connections (a closed laptop lid). */
const HEARTBEAT_INTERVAL_MS = 30_000;

/** Starts a signaling server and resolves once it listens. */
export async function startSignalingServer(
  options: SignalingServerOptions = {},
): Promise<SignalingServer> {
  const rooms = createHostRooms({
    settings: {
      secrets: undefined,
      bootstrapGraceMs: bootstrapGraceMsFrom(process.env.SIGNAL_BOOTSTRAP_GRACE_MS),
    },
    secrets: options.secrets,
    limits: options.limits,
  });
  const stopSweeps = startSweeps(rooms);
  const host = options.host ?? SIGNAL_HOST_DEFAULT;
  const wss = new WebSocketServer({
    host,
    port: options.port ?? portFrom(process.env.SIGNAL_PORT, SIGNAL_PORT_DEFAULT),
    // ws refuses bigger frames (close 1009) before buffering them whole.
    maxPayload: rooms.limits.messageBytesMax,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('error', () => undefined); // after listening, errors are per socket and handled there
  const counters = { slowConsumersDropped: 0, heartbeatsMissed: 0 };
  const alive = new WeakMap<WebSocket, boolean>();
  wss.on('connection', (socket: WebSocket, _request: IncomingMessage) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
    mount(rooms, socket, counters);
  });
  const heartbeat = setInterval(() => {
    for (const socket of wss.clients) {
      if (alive.get(socket) === false) {
        counters.heartbeatsMissed++;
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    limits: rooms.limits,
    stats: () => ({ ...rooms.stats(), ...counters }),
    close: async () => {
      stopSweeps();
      clearInterval(heartbeat);
      rooms.closeAll(GOING_AWAY, 'server shutting down');
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Connects one socket to the room logic. */
function mount(
  rooms: SignalingRooms,
  socket: WebSocket,
  counters: { slowConsumersDropped: number },
): void {
  const handle = rooms.connect(roomConnection(socket, counters));
  socket.on('message', (data: RawData, isBinary: boolean) => {
    handle.receive(isBinary ? data : rawDataToText(data));
  });
  socket.on('close', () => handle.disconnected());
  // A protocol error (bad frame, too big) closes the socket; the close event follows.
  socket.on('error', () => handle.disconnected());
}

function rawDataToText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
