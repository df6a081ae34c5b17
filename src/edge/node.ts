/**
 * The edge member's Node host (issue 13, `npm run edge`): the runtime-agnostic edge member
 * (member.ts) with its log in a data directory (FileStorage), the platform's timers, and a `ws`
 * WebSocketServer on which other members dial it. No WebRTC: nothing here loads `@roamhq/wrtc`.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import type { ConnectOptions } from '../client/connect.js';
import { dataDirMember, defaultDataDir, fileStorageOpener } from '../node/file-host.js';
import type { FileStorageOptions } from '../storage/file.js';
import { SOCKET_CLOSE, SOCKET_FRAME_BYTES_MAX } from '../transport/websocket/socket-channel.js';
import type { RaftSocket, RaftSocketConstructor } from '../transport/websocket/socket-channel.js';
import { startEdgeMember } from './member.js';
import type { EdgeMember } from './member.js';

/** The port raft sockets are accepted on by default. */
export const EDGE_PORT_DEFAULT = 8790;
/** The path raft sockets are accepted on. */
export const EDGE_SOCKET_PATH = '/raft';

export interface NodeEdgeMemberOptions extends Pick<
  ConnectOptions,
  'tickMs' | 'timeoutMs' | 'votersTarget' | 'secret'
> {
  /** Default 'demo'. */
  readonly room?: string;
  /** Default `ws://127.0.0.1:8787`. */
  readonly signalingUrl?: string;
  /** Default `~/.webraft/<room>-edge`. */
  readonly dataDir?: string;
  readonly storage?: FileStorageOptions;
  /** The interface raft sockets are accepted on. Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8790; 0 picks a free port. */
  readonly port?: number;
  /**
   * The URL the room is told to dial, when members reach this one through a proxy (wss:// with
   * TLS in front, say). Default `ws://<host>:<port>/raft`.
   */
  readonly publicUrl?: string;
  /** true (default): prefer this member as a voter; false: it never votes. */
  readonly voter?: boolean;
}

/** The data directory an edge member of `room` uses when none is given. */
export function defaultEdgeDataDir(room: string): string {
  return `${defaultDataDir(room)}-edge`;
}

/**
 * Starts an edge member in this process: listens for raft sockets, then joins the room. Its
 * `close()` also stops listening. Rejects as startEdgeMember does, and when the port is taken.
 */
export async function startNodeEdgeMember(
  options: NodeEdgeMemberOptions = {},
): Promise<EdgeMember> {
  const room = options.room ?? 'demo';
  const dataDir = resolve(options.dataDir ?? defaultEdgeDataDir(room));
  const server = await listen(options.host ?? '127.0.0.1', options.port ?? EDGE_PORT_DEFAULT);
  // Members dial as soon as the room hears of this one, which may be before it is up: until then
  // their sockets are closed at once (they redial), rather than left open with no one to answer.
  let ready: EdgeMember | null = null;
  server.on('connection', (socket) => {
    socket.on('error', () => undefined); // The handshake or the mesh reports what matters.
    if (ready === null) socket.close(SOCKET_CLOSE.normal, 'starting');
    else ready.acceptSocket(socket as unknown as RaftSocket);
  });
  // Past listening, a server error must not end the process: the member runs on without it.
  server.on('error', () => undefined);
  const stopListening = (): Promise<void> => {
    for (const client of server.clients) client.terminate();
    return new Promise((done) => server.close(() => done()));
  };
  let edge: EdgeMember;
  try {
    const { address, port } = server.address() as AddressInfo;
    edge = await startEdgeMember({
      ...options,
      room,
      signalingUrl: options.signalingUrl ?? 'ws://127.0.0.1:8787',
      endpoint: options.publicUrl ?? `ws://${hostInUrl(address)}:${port}${EDGE_SOCKET_PATH}`,
      storage: {
        memberId: (avoid) => dataDirMember(dataDir, avoid),
        open: fileStorageOpener(dataDir, options.storage),
      },
      WebSocket: (globalThis.WebSocket as RaftSocketConstructor | undefined) ?? WebSocket,
    });
  } catch (error) {
    await stopListening();
    throw error;
  }
  ready = edge;
  const close = edge.close;
  return Object.assign(edge, {
    close: async (closeOptions?: { readonly leave?: boolean }) => {
      await close(closeOptions);
      await stopListening();
    },
  });
}

/** A WebSocketServer on `host:port` for raft sockets, once it listens. */
function listen(host: string, port: number): Promise<WebSocketServer> {
  return new Promise((resolveServer, reject) => {
    const server = new WebSocketServer({
      host,
      port,
      path: EDGE_SOCKET_PATH,
      // Larger messages are closed with 1009 by ws before they are buffered whole.
      maxPayload: SOCKET_FRAME_BYTES_MAX,
      // No compression: frames are MessagePack, and inflating is where a peer's bytes cost most.
      perMessageDeflate: false,
    });
    server.once('listening', () => resolveServer(server));
    server.once('error', reject);
  });
}

/** An IPv6 address goes in brackets in a URL. */
const hostInUrl = (address: string): string => (address.includes(':') ? `[${address}]` : address);
