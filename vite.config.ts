/**
 * Vite config for the demo page in `web/`. `npx vite build` writes it to `dist/web`, beside the
 * library that `tsc -p tsconfig.build.json` emits to `dist/src`. Unit tests use vitest.config.ts.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repoRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    // outDir lies outside `root`, so Vite only empties it when told to.
    emptyOutDir: true,
    target: 'es2022',
  },
  // The library and its member worker (src/) live outside `web/`; let the dev server read them.
  // ES-module workers so the worker can import the library.
  server: { fs: { allow: [repoRoot] } },
  worker: { format: 'es' },
});
