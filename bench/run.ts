/**
 * `npm run bench [-- NAME...]`: runs the named benchmarks (all when none is named).
 *   in-process  a 3-member cluster over the memory twins, against an unreplicated state machine
 *   storage     IndexedDB storage in real Chromium, against raw IndexedDB puts
 *   transport   framed worker-to-worker round trips over WebRTC, against a plain data channel
 * Each prints a table for people and one JSON line per figure for tools.
 */
import { runInProcessBench } from './in-process.js';
import { runStorageBench } from './storage.js';
import { runTransportBench } from './transport.js';

const BENCHES: Record<string, () => Promise<void>> = {
  'in-process': runInProcessBench,
  storage: runStorageBench,
  transport: runTransportBench,
};

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`,
    );
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
    console.log(`\n# ${name}`);
    await BENCHES[name]!();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
