/**
 * `webraft member`: runs a Node member of a room from the terminal until SIGINT or SIGTERM, and
 * prints its status — a line when its role, term, leader, membership or peers change, and one
 * every few seconds with the commit index — as text or as JSON lines (`--json`, for scripts).
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { Cluster, ClusterStatus } from '../client/connect.js';
import { checkVotersTarget } from '../client/autopilot.js';
import { defaultDataDir, startNodeMember } from '../node/member.js';
import type { NodeMemberOptions } from '../node/member.js';

export const MEMBER_USAGE = `Usage: webraft member --room NAME [options]

Runs a member of a webraft room in this process, with its log in a data directory, and prints
its status until SIGINT or SIGTERM (it then hands leadership over and leaves the room).

Options:
  --room NAME         the room to join (default: demo)
  --signal URL        the signaling server (default: ws://127.0.0.1:8787)
  --secret SECRET     the room secret, if the room has one (default: $WEBRAFT_SECRET)
  --data-dir DIR      the member's log and identity (default: ~/.webraft/<room>);
                      started again from the same directory, it is the same member
  --voters N          voters the autopilot aims for when this member leads: 1, 3, 5 or 7
  --interval SECONDS  print the status at least this often (default: 5)
  --json              one JSON object per line instead of text
  -h, --help          this help`;

/** A command line that cannot run: exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  /** @param usage the help text to show with it. */
  constructor(
    message: string,
    readonly usage = MEMBER_USAGE,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface MemberCommand {
  readonly help: boolean;
  readonly json: boolean;
  readonly intervalMs: number;
  readonly member: NodeMemberOptions & { readonly room: string; readonly dataDir: string };
}

/** The flags `member` and `edge` share. */
const COMMON_FLAGS = {
  room: { type: 'string' },
  signal: { type: 'string' },
  secret: { type: 'string' },
  'data-dir': { type: 'string' },
  voters: { type: 'string' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/**
 * Reads `args` with the shared flags and `extra` ones; throws UsageError (showing `usage`) on
 * anything it does not know. Returns the raw values.
 */
export function readFlags<const E extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  extra: E,
  usage: string,
) {
  try {
    return parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: { ...COMMON_FLAGS, ...extra },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), usage);
  }
}

/** Reads `member`'s flags; throws UsageError on anything it does not know or cannot use. */
export function parseMemberCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): MemberCommand {
  return commonCommand(readFlags(args, {}, MEMBER_USAGE), env, MEMBER_USAGE, defaultDataDir);
}

/** The shared flags' values, checked (room, signal, interval, secret, voters, data dir). */
export function commonCommand(
  parsed: Partial<Record<keyof typeof COMMON_FLAGS, string | boolean>>,
  env: Readonly<Record<string, string | undefined>>,
  usage: string,
  dataDirOf: (room: string) => string,
): MemberCommand {
  const text = (name: keyof typeof COMMON_FLAGS): string | undefined => {
    const value = parsed[name];
    return typeof value === 'string' ? value : undefined;
  };
  const fail = (message: string): UsageError => new UsageError(message, usage);
  const flags = {
    room: text('room'),
    signal: text('signal'),
    secret: text('secret'),
    'data-dir': text('data-dir'),
    voters: text('voters'),
    interval: text('interval'),
  };
  const room = flags.room ?? 'demo';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(room))
    throw fail(`--room ${room}: letters, digits, _ and - only, at most 64`);
  const signalingUrl = flags.signal ?? 'ws://127.0.0.1:8787';
  if (!/^wss?:\/\/./.test(signalingUrl))
    throw fail(`--signal ${signalingUrl}: a ws:// or wss:// URL`);
  const intervalSeconds = Number(flags.interval ?? '5');
  if (!Number.isFinite(intervalSeconds) || intervalSeconds <= 0)
    throw fail(`--interval ${flags.interval}: a number of seconds above 0`);
  const secret = flags.secret ?? env['WEBRAFT_SECRET'];
  let votersTarget: NodeMemberOptions['votersTarget'];
  if (flags.voters !== undefined) {
    try {
      votersTarget = checkVotersTarget(Number(flags.voters));
    } catch {
      throw fail(`--voters ${flags.voters}: 1, 3, 5 or 7`);
    }
  }
  return {
    help: parsed.help === true,
    json: parsed.json === true,
    intervalMs: intervalSeconds * 1000,
    member: {
      room,
      signalingUrl,
      dataDir: flags['data-dir'] ?? dataDirOf(room),
      ...(secret ? { secret } : {}),
      ...(votersTarget === undefined ? {} : { votersTarget }),
    },
  };
}

/** What a status line shows; a change in any of it but the commit index prints a line at once. */
function summary(status: ClusterStatus): Record<string, unknown> {
  return {
    id: status.id,
    role: status.role,
    term: status.term,
    leader: status.leaderId,
    commit: status.commitIndex,
    applied: status.appliedIndex,
    lastIndex: status.lastIndex,
    voters: status.voters,
    learners: status.learners,
    peers: Object.fromEntries(status.peers.map((peer) => [peer.id, peer.state])),
    signaling: status.signaling,
    failure: status.failure?.code ?? null,
  };
}

export function formatStatus(status: ClusterStatus, json: boolean): string {
  const shown = summary(status);
  if (json) return JSON.stringify({ at: new Date().toISOString(), ...shown });
  const peers = status.peers.map((peer) => `${peer.id}:${peer.state}`).join(' ') || '-';
  const failure = status.failure === null ? '' : ` STOPPED (${status.failure.code})`;
  return (
    `${new Date().toISOString().slice(11, 19)} ${status.id} ${status.role} term ${status.term} ` +
    `commit ${status.commitIndex} leader ${status.leaderId ?? '-'} ` +
    `voters [${status.voters.join(' ')}] learners [${status.learners.join(' ')}] ` +
    `peers ${peers} signaling ${status.signaling}${failure}`
  );
}

const POLL_MS = 250;

/**
 * Runs the member until `stopSignal` resolves, printing to `print`. Resolves once it has left the
 * room; rejects if it cannot start (storage locked or corrupt, no WebRTC, refused by the server).
 */
export async function runMember(
  command: Pick<MemberCommand, 'json' | 'intervalMs'> & Partial<MemberCommand>,
  print: (line: string) => void,
  stopSignal: Promise<unknown>,
  start: () => Promise<Cluster> = () => startNodeMember(command.member ?? {}),
): Promise<void> {
  const cluster = await start();
  let last = '';
  let lastPrintedMs = 0;
  let stopping = false;
  const poll = async (): Promise<void> => {
    while (!stopping) {
      const status = await cluster.status().catch(() => null);
      if (status !== null && !stopping) {
        const {
          commit: _commit,
          applied: _applied,
          lastIndex: _last,
          ...changing
        } = summary(status);
        const key = JSON.stringify(changing);
        if (key !== last || Date.now() - lastPrintedMs >= command.intervalMs) {
          print(formatStatus(status, command.json));
          last = key;
          lastPrintedMs = Date.now();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
  const polling = poll();
  await stopSignal;
  stopping = true;
  await polling;
  await cluster.close({ leave: true });
}
