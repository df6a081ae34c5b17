/**
 * Real Chromium for tests and benchmarks: the system browser (/usr/bin/chromium, never a
 * download) through Playwright, a page entry bundled by vite in memory, served on loopback.
 * Persistent contexts keep IndexedDB on disk, so a test can kill the browser and reopen it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import type { Rollup } from 'vite';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
];

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

/** A browser profile on disk that outlives one browser run (IndexedDB survives a kill). */
export class Profile {
  readonly dir = mkdtempSync(join(tmpdir(), 'webraft-chromium-'));

  /** Launches Chromium on this profile (its first tab is `context.pages()[0]`). */
  start(): Promise<BrowserContext> {
    return chromium.launchPersistentContext(this.dir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  }

  /** Launches Chromium on this profile and opens `url` with the lab loaded. */
  async launch(url: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.start();
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await page.waitForFunction(() => (window as { labReady?: boolean }).labReady === true);
    return { context, page };
  }

  /**
   * Kills every browser process of this profile with SIGKILL, as a crash or a power cut of the
   * tab would: nothing is flushed or closed on the way out.
   */
  async kill(): Promise<void> {
    const pattern = `--user-data-dir=${this.dir}`;
    const running = (): boolean => {
      try {
        execFileSync('pgrep', ['-f', '--', pattern]);
        return true;
      } catch {
        return false; // pgrep exits 1 when nothing matched.
      }
    };
    for (let attempt = 0; attempt < 100 && running(); attempt++) {
      try {
        execFileSync('pkill', ['-KILL', '-f', '--', pattern]);
      } catch {
        // Gone between the check and the kill.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A killed browser leaves its profile lock behind; the next launch would refuse the profile.
    for (const lock of ['SingletonLock', 'SingletonSocket', 'SingletonCookie']) {
      rmSync(join(this.dir, lock), { force: true });
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Kills the tab's renderer (CDP `Page.crash`), as a crash or an OOM kill would: no pagehide, no
 * unload, nothing runs on the way out. Resolves once the page reports the crash (or after 5 s).
 */
export async function crashTab(page: Page): Promise<void> {
  const crashed = new Promise<void>((resolve) => page.once('crash', () => resolve()));
  const cdp = await page.context().newCDPSession(page);
  void cdp.send('Page.crash').catch(() => undefined); // Never answers: the renderer dies.
  await Promise.race([crashed, new Promise((resolve) => setTimeout(resolve, 5000))]);
}

/**
 * Freezes a tab as Chromium does a background tab (Page Lifecycle): the page hears `freeze`,
 * then neither it nor its workers run until the returned `thaw` (which fires `resume`). Headless
 * Chromium accepts CDP `Page.setWebLifecycleState` but freezes nothing (measured: page timers and
 * its worker keep running), so the JavaScript of the page and of each of its workers is held in
 * the debugger instead — what a frozen or SIGSTOPped renderer looks like from the outside.
 */
export async function freezeTab(page: Page): Promise<() => Promise<void>> {
  const cdp = await page.context().newCDPSession(page);
  const workers: string[] = [];
  cdp.on(
    'Target.attachedToTarget',
    (event: { sessionId: string; targetInfo: { type: string } }) => {
      if (event.targetInfo.type === 'worker') workers.push(event.sessionId);
    },
  );
  await cdp.send('Target.setAutoAttach', {
    autoAttach: true,
    waitForDebuggerOnStart: false,
    flatten: false,
  });
  let nextId = 1;
  // Workers are reached through their target session; flat sessions are not exposed here.
  const toWorkers = (method: string) =>
    Promise.all(
      workers.map((sessionId) =>
        cdp.send('Target.sendMessageToTarget', {
          sessionId,
          message: JSON.stringify({ id: nextId++, method, params: {} }),
        }),
      ),
    );
  await page.evaluate(() => document.dispatchEvent(new Event('freeze')));
  await new Promise((resolve) => setTimeout(resolve, 100)); // What a browser gives `freeze`.
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await toWorkers('Debugger.enable');
  await toWorkers('Debugger.pause');
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  return async () => {
    await toWorkers('Debugger.resume');
    await cdp.send('Debugger.resume');
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
    await page.evaluate(() => document.dispatchEvent(new Event('resume')));
    await cdp.detach();
  };
}
