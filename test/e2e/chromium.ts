/**
 * Real Chromium for tests and benchmarks (src/testing/chromium.ts), plus a page entry bundled by
 * vite in memory and served on loopback (a lab page with no app around it).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { listenOnLoopback } from '../../src/testing/app-server.js';
import { build } from 'vite';
import type { Rollup } from 'vite';

export { CHROMIUM_PATH, Profile, crashTab, freezeTab } from '../../src/testing/chromium.js';

/** Bundles `entry` (a TypeScript module) into one ES module, in memory. */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: false,
      target: 'es2022',
      lib: { entry, formats: ['es'], fileName: 'lab' },
      rollupOptions: { output: { inlineDynamicImports: true } },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rollup.RollupOutput[];
  const chunk = outputs[0]?.output.find((item) => item.type === 'chunk');
  if (chunk === undefined || chunk.type !== 'chunk')
    throw new Error(`bundling ${entry} gave no code`);
  return chunk.code;
}

/**
 * Serves a page that imports `code` as a module and sets `window.labReady`; `extra` maps more
 * paths (a worker bundle, say) to their code.
 */
export async function serveLab(
  code: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>webraft lab</title>' +
    '<script type="module">import * as lab from "/lab.js"; window.lab = lab; window.labReady = true;</script>';
  // Cross-origin isolated, so performance.now() has microsecond resolution, not 100 µs.
  const isolation = {
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  };
  const server: Server = createServer((request, response) => {
    const script = request.url === '/lab.js' ? code : extra[request.url ?? ''];
    if (script !== undefined) {
      response.writeHead(200, { 'content-type': 'text/javascript', ...isolation });
      response.end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html', ...isolation });
      response.end(html);
    }
  });
  return listenOnLoopback(server);
}
