#!/usr/bin/env node
/**
 * The `webraft` command (`npx webraft member --room demo`). Exit codes: 0 after a clean stop,
 * 1 when the member cannot start or fails, 2 for a command line it cannot use.
 */
import { MEMBER_USAGE, parseMemberCommand, runMember, UsageError } from './member-command.js';

const USAGE = `Usage: webraft <command> [options]

Commands:
  member    run a member of a room in this process (webraft member --help)`;

/** Signals this close to the first are the same keypress, passed on by a parent process. */
const REPEATED_SIGNAL_MS = 1000;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command', USAGE);
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'member') throw new UsageError(`unknown command ${command}`, USAGE);
  const parsed = parseMemberCommand(rest, process.env);
  if (parsed.help) {
    console.log(MEMBER_USAGE);
    return 0;
  }
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
      console.error(`${name}: leaving room ${parsed.member.room}`);
      signalled(name);
    });
  }
  await runMember(parsed, (line) => console.log(line), stopSignal);
  console.error(`left room ${parsed.member.room}`);
  return 0;
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
