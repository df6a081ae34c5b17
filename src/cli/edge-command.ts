/**
 * `webraft edge` (`npm run edge`): runs an edge member of a room on Node (src/edge/node.ts) until
 * SIGINT or SIGTERM, printing its status as `webraft member` does. It needs no WebRTC: members
 * dial it over raft WebSockets on `--port`.
 */
import { defaultEdgeDataDir, EDGE_PORT_DEFAULT, startNodeEdgeMember } from '../edge/node.js';
import type { NodeEdgeMemberOptions } from '../edge/node.js';
import { isEndpoint } from '../signaling/protocol.js';
import { commonCommand, readFlags, UsageError } from './member-command.js';
import type { MemberCommand } from './member-command.js';

export const EDGE_USAGE = `Usage: webraft edge --room NAME [options]

Runs an edge member of a webraft room in this process: an always-on member with its log in a
data directory, which tabs and Node members reach over WebSocket (no WebRTC). It prints its
status until SIGINT or SIGTERM (it then hands leadership over and leaves the room).

Options:
  --room NAME         the room to join (default: demo)
  --signal URL        the signaling server (default: ws://127.0.0.1:8787)
  --secret SECRET     the room secret, if the room has one (default: $WEBRAFT_SECRET)
  --data-dir DIR      the member's log and identity (default: ~/.webraft/<room>-edge)
  --host ADDRESS      where raft sockets are accepted (default: 127.0.0.1)
  --port PORT         the port they are accepted on (default: ${EDGE_PORT_DEFAULT}; 0: any free one)
  --public-url URL    the ws:// or wss:// URL members dial, when a proxy is in front
                      (default: ws://<host>:<port>/raft)
  --voter             prefer this member as a voter (the default)
  --no-voter          never make this member a voter
  --voters N          voters the autopilot aims for when this member leads: 1, 3, 5 or 7
  --interval SECONDS  print the status at least this often (default: 5)
  --json              one JSON object per line instead of text
  -h, --help          this help`;

export interface EdgeCommand extends Omit<MemberCommand, 'member'> {
  readonly edge: NodeEdgeMemberOptions & { readonly room: string; readonly dataDir: string };
}

const EDGE_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'public-url': { type: 'string' },
  voter: { type: 'boolean' },
  'no-voter': { type: 'boolean' },
} as const;

/** Reads `edge`'s flags; throws UsageError on anything it does not know or cannot use. */
export function parseEdgeCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): EdgeCommand {
  const parsed = readFlags(args, EDGE_FLAGS, EDGE_USAGE);
  const { member, ...common } = commonCommand(parsed, env, EDGE_USAGE, defaultEdgeDataDir);
  const fail = (message: string): UsageError => new UsageError(message, EDGE_USAGE);
  if (parsed.voter === true && parsed['no-voter'] === true)
    throw fail('--voter and --no-voter: one or the other');
  const port = Number(parsed.port ?? EDGE_PORT_DEFAULT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw fail(`--port ${parsed.port}: a TCP port, 0 to 65535`);
  const publicUrl = parsed['public-url'];
  if (publicUrl !== undefined && !isEndpoint(publicUrl))
    throw fail(`--public-url ${publicUrl}: a ws:// or wss:// URL`);
  const { signalingUrl, secret, votersTarget, room, dataDir } = member;
  return {
    ...common,
    edge: {
      room,
      dataDir,
      port,
      voter: parsed['no-voter'] !== true,
      ...(signalingUrl === undefined ? {} : { signalingUrl }),
      ...(secret === undefined ? {} : { secret }),
      ...(votersTarget === undefined ? {} : { votersTarget }),
      ...(parsed.host === undefined ? {} : { host: parsed.host }),
      ...(publicUrl === undefined ? {} : { publicUrl }),
    },
  };
}

/** Starts the edge member the command describes (runMember runs and prints it). */
export const startEdge = (command: EdgeCommand) => () => startNodeEdgeMember(command.edge);
