/**
 * Real Chromium under test: the system browser (or the one `CHROMIUM_PATH` names) through
 * Playwright, on a profile on disk so IndexedDB outlives a killed browser, and the faults a tab
 * can suffer that Playwright has no call for: a crash (no pagehide, no unload) and a freeze.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

/**
 * The browser to drive: `CHROMIUM_PATH`, else the system Chromium where there is one, else
 * Playwright's own build (`npx playwright install chromium`).
 */
export const CHROMIUM_PATH: string | undefined =
  process.env['CHROMIUM_PATH'] ??
  (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
];

export interface BrowserOptions {
  /** Default `CHROMIUM_PATH`. */
  readonly executablePath?: string | undefined;
  /** Default `CHROMIUM_ARGS`. */
  readonly args?: readonly string[];
  /** Default true. */
  readonly headless?: boolean;
}

/** A browser profile on disk that outlives one browser run (IndexedDB survives a kill). */
export class Profile {
  readonly dir = mkdtempSync(join(tmpdir(), 'webraft-chromium-'));

  /** Launches Chromium on this profile (its first tab is `context.pages()[0]`). */
  start(options: BrowserOptions = {}): Promise<BrowserContext> {
    const executablePath = options.executablePath ?? CHROMIUM_PATH;
    return chromium.launchPersistentContext(this.dir, {
      ...(executablePath === undefined ? {} : { executablePath }),
      headless: options.headless ?? true,
      args: [...(options.args ?? CHROMIUM_ARGS)],
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
    // A page or worker that ran no JavaScript while frozen never reached its pause: `resume`
    // then finds nothing to resume, and the pause request would still stop it later. `disable`
    // drops the request and resumes whatever is paused.
    await toWorkers('Debugger.resume');
    await toWorkers('Debugger.disable');
    await cdp.send('Debugger.resume').catch(() => undefined);
    await cdp.send('Debugger.disable');
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
    await page.evaluate(() => document.dispatchEvent(new Event('resume')));
    await cdp.detach();
  };
}
