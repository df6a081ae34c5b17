#!/usr/bin/env node
/**
 * The `webraft` command (`npx webraft member --room demo`). Exit codes: 0 after a clean stop,
 * 1 when the member cannot start or fails, 2 for a command line it cannot use.
 */
import { EDGE_USAGE, parseEdgeCommand, startEdge } from './edge-command.js';
import type { Cluster } from '../client/connect.js';
import { MEMBER_USAGE, parseMemberCommand, runMember, UsageError } from './member-command.js';
import type { MemberCommand } from './member-command.js';

const USAGE = `Usage: webraft <command> [options]

Commands:
  member    run a member of a room in this process (webraft member --help)
  edge      run an edge member of a room: no WebRTC, reached over WebSocket (webraft edge --help)`;

/** Signals this close to the first are the same keypress, passed on by a parent process. */
const REPEATED_SIGNAL_MS = 1000;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command', USAGE);
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'member' && command !== 'edge')
    throw new UsageError(`unknown command ${command}`, USAGE);
  const run = command === 'edge' ? edgeRun(rest) : memberRun(rest);
  if (run.help) {
    console.log(run.usage);
    return 0;
  }
  const { room } = run;
  let signalled: (name: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (signalled = resolve));
  let firstSignalMs: number | null = null;
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      // Ctrl-C reaches npm, npx or tsx and this process at once, and they pass it on: one
      // keypress arrives more than once. A later one means: do not wait for the hand-off.
      if (firstSignalMs !== null) {
        if (Date.now() - firstSignalMs >= REPEATED_SIGNAL_MS) process.exit(130);
        return;
      }
      firstSignalMs = Date.now();
      console.error(`${name}: leaving room ${room}`);
      signalled(name);
    });
  }
  await runMember(run, (line) => console.log(line), stopSignal, run.start);
  console.error(`left room ${room}`);
  return 0;
}

/** A command, read from its flags: its help, its room, and how to run it. */
interface Run {
  readonly help: boolean;
  readonly usage: string;
  readonly room: string;
  readonly json: boolean;
  readonly intervalMs: number;
  readonly member?: MemberCommand['member'];
  /** How the member starts; undefined: a Node member (`member`). */
  readonly start: (() => Promise<Cluster>) | undefined;
}

function memberRun(args: readonly string[]): Run {
  const command = parseMemberCommand(args, process.env);
  return { ...command, usage: MEMBER_USAGE, room: command.member.room, start: undefined };
}

function edgeRun(args: readonly string[]): Run {
  const command = parseEdgeCommand(args, process.env);
  return { ...command, usage: EDGE_USAGE, room: command.edge.room, start: startEdge(command) };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`webraft: ${error.message}\n\n${error.usage}`);
      process.exit(2);
    }
    const { code, message } = error as { code?: unknown; message?: unknown };
    console.error(`webraft: ${typeof code === 'string' ? `${code}: ` : ''}${String(message)}`);
    process.exit(1);
  },
);
