/**
 * The `webraft` command as a child process for e2e tests (`member`, `edge`): Node itself with
 * tsx's loader, not `npx tsx`, so there is one process to kill and no wrapper between; the last
 * status line it printed with `--json`, and everything it printed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('../..', import.meta.url));

export interface CliProcess<Line> {
  readonly child: ChildProcess;
  /** The last `--json` status line, or null before the first. */
  latest(): Line | null;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** SIGKILL, and wait until it has exited. */
  kill(): Promise<void>;
}

/** Runs `webraft <args>`; `cleanups` gets the kill, for the test's afterEach. */
export function spawnCli<Line>(
  args: readonly string[],
  cleanups: (() => Promise<void> | void)[],
): CliProcess<Line> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repository,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let latest: Line | null = null;
  let output = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) latest = JSON.parse(line) as Line;
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
  };
  cleanups.push(kill);
  return { child, latest: () => latest, output: () => output, kill };
}
