/**
 * FileStorage in Deno, the edge member's storage there (src/edge/deno.ts): the same conformance
 * suite as under Node (file-conformance.ts), bundled with a small vitest shim
 * (test/deno/vitest-shim.ts) and run by the `deno` binary from node_modules, with only the
 * permissions the Deno edge host asks for.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleModule } from '../../../scripts/build-edge.js';
import type { ShimResult } from '../../deno/vitest-shim.js';
import { DENO_EDGE_PERMISSIONS } from '../../../src/edge/deno-permissions.js';

const DENO = fileURLToPath(new URL('../../../node_modules/.bin/deno', import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), 'webraft-deno-storage-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('FileStorage in Deno', () => {
  it('passes the storage conformance suite, every test of it', async () => {
    const bundle = await bundleModule('test/deno/file-storage.deno.ts', outDir, 'conformance', {
      nodeBuiltins: true,
      alias: { vitest: 'test/deno/vitest-shim.ts' },
    });
    const run = spawnSync(DENO, ['run', '--no-prompt', ...DENO_EDGE_PERMISSIONS, bundle], {
      encoding: 'utf8',
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
      timeout: 60_000,
    });
    const results = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ShimResult);
    expect(run.status, run.stderr).toBe(0);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    // Both option sets of the suite, each with every one of its tests.
    const suites = new Set(results.map((result) => result.name.split(' > ')[0]));
    expect(suites.size).toBe(2);
    expect(results.length).toBeGreaterThanOrEqual(2 * 30);
  }, 90_000);
});
