/**
 * The storage conformance suite on FileStorage inside Deno (the edge member's storage there,
 * through Deno's `node:fs`): bundled with `vitest` aliased to the shim and run by
 * test/unit/storage/file-deno.test.ts, which reads one JSON line per test from its output.
 */
import { FileStorages, runFileStorageConformance } from '../unit/storage/file-conformance.js';
import { runRegistered } from './vitest-shim.js';

runFileStorageConformance(await FileStorages.inTemporaryDirectory());
for (const result of await runRegistered()) console.log(JSON.stringify(result));
