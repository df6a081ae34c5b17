/**
 * The page a test cluster's tabs open when the test names no app of its own: the webraft demo,
 * which joins `?room=…&signal=…` and sets `window.webraft` to its cluster. From an installed
 * package it is the built demo (dist/web) served as static files; from a source checkout it is
 * the vite dev server of web/, so a test always runs the code beside it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AppServer {
  /** The base URL, ending in `/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Raised when neither the built demo nor the sources to build it are where webraft left them. */
export class DemoAppMissingError extends Error {
  override readonly name = 'DemoAppMissingError';
  readonly code = 'DEMO_APP_MISSING';
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Starts the demo app on 127.0.0.1, on a free port. */
export async function startDemoApp(): Promise<AppServer> {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // src/testing/app-server.ts: a checkout, with vite among its dev dependencies.
    return startViteDevServer();
  }
  // dist/src/testing/app-server.js: an installed package, with the demo built beside it.
  const built = fileURLToPath(new URL('../../web/', import.meta.url));
  if (!existsSync(join(built, 'index.html')))
    throw new DemoAppMissingError(
      `webraft's built demo is missing (${built}); rebuild the package, or give the test ` +
        'cluster the URL of your own app (`url`)',
    );
  return serveStatic(built);
}

/** The demo from its sources, through vite (a checkout's tests; hot reload and watching off). */
export async function startViteDevServer(
  configFile = fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
): Promise<AppServer> {
  const { createServer: createVite } = await import('vite');
  const vite = await createVite({
    configFile,
    logLevel: 'silent',
    // No file watching: an edit to the source during a run must not reload the tabs under test.
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null },
  });
  await vite.listen();
  const address = vite.httpServer?.address();
  if (address === null || address === undefined || typeof address === 'string')
    throw new Error('the vite dev server did not listen');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => vite.close() };
}

async function serveStatic(root: string): Promise<AppServer> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      response.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => {
        const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
        response.writeHead(200, { 'content-type': type }).end(body);
      },
      () => response.writeHead(404).end(),
    );
  });
  return listenOnLoopback(server);
}

/** Starts `server` on 127.0.0.1 on a free port; its close does not wait for idle keep-alives. */
export async function listenOnLoopback(server: Server): Promise<AppServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // A browser keeps connections alive; do not wait for it.
        server.close(() => resolve());
      }),
  };
}
