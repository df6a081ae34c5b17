/**
 * `npm run chaos -- --rounds N --seed S [--tabs T]`: the chaos runner (chaos.ts) from the command
 * line. Progress goes to stderr; the last line on stdout is one JSON object,
 * `{"rounds":N,"opsAcked":...,"lost":0,"linearizable":true,"violations":0,...}`. Exits 1 on any
 * violation, naming the seed that replays the fault schedule.
 */
import { runChaos } from './chaos.js';

function flag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`--${name} takes a non-negative integer, got ${args[at + 1]}`);
  }
  return value;
}

const known = new Set(['--rounds', '--seed', '--tabs']);
const unknown = process.argv
  .slice(2)
  .filter((arg, i, all) => arg.startsWith('--') && !known.has(arg) && !known.has(all[i - 1]!));
if (unknown.length > 0)
  throw new RangeError(`unknown flags ${unknown.join(', ')}; use --rounds, --seed, --tabs`);

const rounds = flag('rounds', 5);
const seed = flag('seed', 1);
const tabs = flag('tabs', 4);
const report = await runChaos({
  rounds,
  seed,
  tabs,
  log: (line) => process.stderr.write(`… ${line}\n`),
});
for (const problem of report.problems) process.stderr.write(`violation: ${problem}\n`);
if (report.violations > 0) {
  process.stderr.write(
    `replay with: npm run chaos -- --rounds ${rounds} --seed ${seed} --tabs ${tabs}\n`,
  );
}
const { problems: _problems, ...summary } = report;
console.log(JSON.stringify(summary));
process.exitCode = report.violations > 0 ? 1 : 0;
