/**
 * A webraft cluster of real browser tabs for tests: N tabs of an app on a fresh room, against a
 * signaling server the cluster starts and stops itself, with the faults tabs suffer (cut off,
 * killed, reloaded, frozen, out of disk) and the two checks that matter (the members converged;
 * the history is linearizable). Framework-free: `webraft/playwright` wraps it as a fixture, and
 * any runner that can await can use it as it is.
 *
 *     const cluster = await TestCluster.start();
 *     const tabs = await cluster.open(3);
 *     await cluster.waitForLeader();
 *     await tabs[0].kv.put('x', 1);
 *     await cluster.kill(cluster.leader);
 *     await cluster.expectConverged();
 *     await cluster.expectLinearizable();
 *     await cluster.close();
 */
import type { BrowserContext, Page } from 'playwright-core';
import { kvModel } from '../check/kv-model.js';
import type { KvInput, KvOperation, KvOutput } from '../check/kv-model.js';
import { checkLinearizable } from '../check/linearizability.js';
import type { CheckResult } from '../check/linearizability.js';
import type { ClusterStatus } from '../client/connect.js';
import type { StorageFault } from '../storage/faulty.js';
import type { JsonValue, KvCasResult, KvGetResult } from '../state/kv-types.js';
import { startSignalingServer } from '../signaling/node-server.js';
import type { SignalingServer } from '../signaling/node-server.js';
import { startDemoApp } from './app-server.js';
import type { AppServer } from './app-server.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, Profile, crashTab, freezeTab } from './chromium.js';
import { convergenceProblems, settledOnOneState } from './convergence.js';
import type { MemberView } from './convergence.js';
import { ClientHistory } from './history.js';
import type { ClientEvent } from './history.js';

export interface TestClusterOptions {
  /**
   * The page a tab opens for `room`: your app, which must call `connect({ room, signalingUrl })`
   * and set `window[handle]` to the cluster it returns. Default: the webraft demo.
   */
  readonly url?: (room: string, signalingUrl: string) => string;
  /** The global your page sets to its cluster. Default 'webraft' (as the demo does). */
  readonly handle?: string;
  /** A signaling server to use instead of the one the cluster starts (an edge deployment, say). */
  readonly signalingUrl?: string;
  /** The room; default a fresh one per cluster, so tests never meet. */
  readonly room?: string;
  /** The room secret, handed to the demo as `#secret=…` (your app takes it its own way). */
  readonly secret?: string;
  /** The Chromium to drive; default `CHROMIUM_PATH`, else /usr/bin/chromium, else Playwright's. */
  readonly executablePath?: string;
  /** More Chromium flags, after webraft's (no sandbox, no GPU, no QUIC, no background traffic). */
  readonly args?: readonly string[];
  /** Default true. */
  readonly headless?: boolean;
  /** How long the waits and checks take before failing. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A check of the cluster failed: what was wrong, one line each. */
export class ClusterCheckError extends Error {
  override readonly name: string = 'ClusterCheckError';
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(`${message}:\n  ${problems.join('\n  ')}`);
  }
}

/** The members did not reach one state and one log, or lost an acknowledged write. */
export class NotConvergedError extends ClusterCheckError {
  override readonly name = 'NotConvergedError';
}

/** The recorded history has no legal order (or the checker could not decide in its budget). */
export class NotLinearizableError extends ClusterCheckError {
  override readonly name = 'NotLinearizableError';
}

/** A wait ran out of time; the message says for what, and the last thing seen. */
export class ClusterTimeoutError extends Error {
  override readonly name = 'ClusterTimeoutError';
}

/** What a tab's key-value calls look like: those of `cluster.kv`, recorded for the checker. */
export interface RecordedKv {
  put(key: string, value: JsonValue): Promise<void>;
  /** A linearizable read: the value, or null when the key is absent. */
  get(key: string): Promise<JsonValue | null>;
  delete(key: string): Promise<void>;
  /** Swaps in `next` when the key holds `expected` (null: when it is absent). */
  cas(key: string, expected: JsonValue | null, next: JsonValue): Promise<boolean>;
}

type HandleWindow = Record<string, unknown>;

/** One tab of the cluster: its page, and its member's calls. */
export class TestTab {
  /** Tab `t1`, `t2`, … in the order they were opened. */
  readonly label: string;
  /** Key-value calls through this tab, each recorded for `expectLinearizable`. */
  readonly kv: RecordedKv;
  private crashed = false;

  constructor(
    /** The Playwright page: drive your app's UI through it. */
    readonly page: Page,
    label: string,
    private readonly cluster: TestCluster,
  ) {
    this.label = label;
    this.kv = {
      put: async (key, value) => {
        await this.call({ op: 'put', key, value: json(value) }, 'put', [key, value]);
      },
      get: async (key) => {
        const entry = (await this.call({ op: 'get', key }, 'get', [key], (result) => {
          const got = result as KvGetResult;
          return { value: got === null ? null : json(got.value) };
        })) as KvGetResult;
        return entry === null ? null : entry.value;
      },
      delete: async (key) => {
        await this.call({ op: 'delete', key }, 'delete', [key]);
      },
      cas: async (key, expected, next) => {
        const input: KvInput = {
          op: 'cas',
          key,
          expected: expected === null ? null : json(expected),
          next: json(next),
        };
        const result = (await this.call(input, 'cas', [key, expected, next], (result) => ({
          ok: (result as KvCasResult).ok,
        }))) as KvCasResult;
        return result.ok;
      },
    };
  }

  /** False once the tab was killed or closed. */
  get alive(): boolean {
    return !this.crashed && !this.page.isClosed();
  }

  /** This tab's cluster status (role, term, commit index, voters, peers, …). */
  status(): Promise<ClusterStatus> {
    return this.page.evaluate(
      (handle) =>
        (
          (window as unknown as HandleWindow)[handle] as { status(): Promise<ClusterStatus> }
        ).status(),
      this.cluster.handle,
    );
  }

  /** This tab's member id (it changes if the member had to rejoin as a new one). */
  async memberId(): Promise<string> {
    return (await this.status()).id;
  }

  /** @internal */
  markCrashed(): void {
    this.crashed = true;
  }

  private async call(
    input: KvInput,
    method: 'put' | 'get' | 'delete' | 'cas',
    args: readonly (JsonValue | null)[],
    output: (result: unknown) => KvOutput = () => ({}),
  ): Promise<unknown> {
    return this.cluster.recorded(this.label, input, output, () =>
      // JSON text across the page boundary: Playwright's serializable type is too deep for a
      // JsonValue, and text round-trips every JSON value exactly.
      this.page
        .evaluate(
          async ({ handle, method, argsJson }) => {
            const cluster = (window as unknown as HandleWindow)[handle] as {
              kv: Record<string, (...args: unknown[]) => Promise<unknown>>;
            };
            const result = await cluster.kv[method]!(...(JSON.parse(argsJson) as unknown[]));
            return JSON.stringify(result ?? null);
          },
          { handle: this.cluster.handle, method, argsJson: JSON.stringify(args) },
        )
        .then((text) => JSON.parse(text) as unknown),
    );
  }
}

const TIMEOUT_MS_DEFAULT = 30_000;
const POLL_MS = 50;

export class TestCluster {
  /** The room every tab joins. */
  readonly room: string;
  /** The signaling server's URL. */
  readonly signalingUrl: string;
  /** The global each page sets to its cluster. */
  readonly handle: string;
  /** Every client operation made through a tab's `kv`, as the test process heard of it. */
  readonly history = new ClientHistory();
  private readonly live: TestTab[] = [];
  private opened = 0;
  private knownLeader: TestTab | null = null;
  private operationCount = 0;
  private readonly thaws = new Map<TestTab, () => Promise<void>>();

  private constructor(
    private readonly options: TestClusterOptions,
    private readonly context: BrowserContext,
    private readonly profile: Profile,
    private signaling: SignalingServer | null,
    private readonly app: AppServer | null,
    private readonly timeoutMs: number,
  ) {
    this.room = options.room ?? `test-${Date.now().toString(36)}-${randomSuffix()}`;
    this.signalingUrl = options.signalingUrl ?? signaling!.url;
    this.handle = options.handle ?? 'webraft';
  }

  /**
   * Starts the signaling server (unless `signalingUrl` names one), the demo app (unless `url`
   * names yours) and a browser on a fresh profile on disk, so a reloaded or crashed tab finds its
   * database again.
   */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const started: { close(): Promise<void> }[] = [];
    try {
      const signaling =
        options.signalingUrl === undefined
          ? // A fresh room needs no grace for tabs of an older cluster to come back.
            await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } })
          : null;
      if (signaling !== null) started.push(signaling);
      const app = options.url === undefined ? await startDemoApp() : null;
      if (app !== null) started.push(app);
      const profile = new Profile();
      const context = await profile
        .start({
          executablePath: options.executablePath ?? CHROMIUM_PATH,
          args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
          headless: options.headless ?? true,
        })
        .catch((error: unknown) => {
          profile.remove();
          throw error;
        });
      const cluster = new TestCluster(
        options,
        context,
        profile,
        signaling,
        app,
        options.timeoutMs ?? TIMEOUT_MS_DEFAULT,
      );
      // Code bundled with esbuild's keepNames (tsx, vitest) names functions through a helper that
      // pages do not have; `page.evaluate` callbacks would throw without it.
      await context.addInitScript('globalThis.__name = (fn) => fn;');
      await context.exposeBinding('webraftRecord', (_source, event: ClientEvent) =>
        cluster.history.record(event),
      );
      return cluster;
    } catch (error) {
      await Promise.all(started.map((server) => server.close().catch(() => undefined)));
      throw error;
    }
  }

  /** The tabs open now (killed and closed tabs leave this list). */
  get tabs(): readonly TestTab[] {
    return this.live;
  }

  /** The browser context the tabs live in: for routes, bindings, more pages. */
  get browserContext(): BrowserContext {
    return this.context;
  }

  /**
   * The tab the last `waitForLeader` found leading. Throws when there is none (never waited, or
   * that tab was killed since): leadership moves, so wait again after a fault.
   */
  get leader(): TestTab {
    if (this.knownLeader === null || !this.knownLeader.alive)
      throw new Error('no known leader: call `await cluster.waitForLeader()` first');
    return this.knownLeader;
  }

  /** The page URL tabs open. */
  pageUrl(): string {
    if (this.options.url !== undefined) return this.options.url(this.room, this.signalingUrl);
    const query = `?room=${encodeURIComponent(this.room)}&signal=${encodeURIComponent(this.signalingUrl)}`;
    const secret =
      this.options.secret === undefined ? '' : `#secret=${encodeURIComponent(this.options.secret)}`;
    return `${this.app!.url}${query}${secret}`;
  }

  /** Opens `count` more tabs and waits until each page has its cluster handle. */
  async open(count = 1): Promise<TestTab[]> {
    const tabs: TestTab[] = [];
    for (let i = 0; i < count; i++) {
      const blank = this.opened === 0 ? this.context.pages()[0] : undefined;
      const page = blank ?? (await this.context.newPage());
      const tab = new TestTab(page, `t${++this.opened}`, this);
      await page.goto(this.pageUrl());
      await this.waitForHandle(page);
      this.live.push(tab);
      tabs.push(tab);
    }
    return tabs;
  }

  /**
   * Waits until one tab leads a cluster that counts every open tab as a member (and, with
   * `voters`, has that many voters); that tab is `cluster.leader` from then on.
   */
  async waitForLeader(options: { readonly voters?: number } = {}): Promise<TestTab> {
    const leader = await this.waitFor('a leader of every open tab', async () => {
      const live = this.live.filter((tab) => tab.alive);
      const statuses = await Promise.all(live.map((tab) => tab.status().catch(() => null)));
      const at = statuses.findIndex((s) => s?.role === 'leader');
      const status = statuses[at];
      if (status === undefined || status === null) return null;
      const members = new Set([...status.voters, ...status.learners]);
      const everyone = statuses.every((s) => s !== null && members.has(s.id));
      const voters = options.voters === undefined || status.voters.length === options.voters;
      return everyone && voters ? live[at]! : null;
    });
    this.knownLeader = leader;
    return leader;
  }

  /**
   * Waits until every open tab follows one leader — a tab, or a member that is none (an edge or
   * Node member) — that counts every open tab as a member; with `voters` and `members`, also
   * those counts. Resolves with that leader's view as the first tab sees it.
   */
  async waitForAgreement(
    options: { readonly voters?: number; readonly members?: number } = {},
  ): Promise<ClusterStatus> {
    const wanted = [
      options.voters === undefined ? '' : `${options.voters} voters`,
      options.members === undefined ? '' : `${options.members} members`,
    ].filter((part) => part !== '');
    return this.waitFor(
      `one leader of every open tab${wanted.length > 0 ? ` (${wanted.join(', ')})` : ''}`,
      async () => {
        const statuses = await Promise.all(
          this.live.filter((tab) => tab.alive).map((tab) => tab.status()),
        );
        const [first] = statuses;
        if (first === undefined || first.leaderId === null) return null;
        const members = new Set([...first.voters, ...first.learners]);
        const agree = statuses.every(
          (s) => s.leaderId === first.leaderId && s.term === first.term && members.has(s.id),
        );
        const voters = options.voters === undefined || first.voters.length === options.voters;
        const all = options.members === undefined || members.size === options.members;
        return agree && voters && all ? first : null;
      },
    );
  }

  /** Cuts the tab off from every peer and the signaling server, until `heal`. */
  async partition(tab: TestTab): Promise<void> {
    await this.setDisconnected(tab, true);
  }

  /** Reconnects `tab`, or every open tab. */
  async heal(tab?: TestTab): Promise<void> {
    for (const each of tab === undefined ? this.live : [tab]) {
      if (each.alive) await this.setDisconnected(each, false);
    }
  }

  /**
   * Kills the tab's renderer, as a crash or an OOM kill would: no pagehide, no unload, no
   * hand-off. Its member's database stays; a tab opened later may take its identity back.
   */
  async kill(tab: TestTab): Promise<void> {
    this.forget(tab);
    tab.markCrashed();
    await crashTab(tab.page);
    await tab.page.close().catch(() => undefined);
  }

  /** Closes the tab as a user would (pagehide: the member leaves at once). */
  async closeTab(tab: TestTab): Promise<void> {
    this.forget(tab);
    await tab.page.close({ runBeforeUnload: true });
  }

  /** Reloads the tab; its member comes back from its database. */
  async reload(tab: TestTab): Promise<void> {
    await tab.page.reload();
    await this.waitForHandle(tab.page);
  }

  /** Freezes the tab and its worker, as a background tab or a stopped process, until `thaw`. */
  async freeze(tab: TestTab): Promise<void> {
    if (this.thaws.has(tab)) return;
    this.thaws.set(tab, await freezeTab(tab.page));
  }

  async thaw(tab: TestTab): Promise<void> {
    const thaw = this.thaws.get(tab);
    this.thaws.delete(tab);
    await thaw?.();
  }

  /**
   * Makes the tab's storage fail as a full disk does (or another `StorageFault`): its member
   * stops, and its page restarts it. `null` ends the fault.
   */
  async fillDisk(tab: TestTab, fault: StorageFault | null = 'quota'): Promise<void> {
    await tab.page.evaluate(
      ({ handle, fault }) =>
        (
          (window as unknown as HandleWindow)[handle] as {
            setStorageFault(fault: unknown): Promise<void>;
          }
        ).setStorageFault(fault),
      { handle: this.handle, fault },
    );
  }

  /**
   * Stops the signaling server for `downMs`, then starts it again on the same port. Linked peers
   * keep talking meanwhile; only a signaling server this cluster started can be restarted.
   */
  async restartSignaling(downMs = 1_000): Promise<void> {
    const running = this.signaling;
    if (running === null) throw new Error('the signaling server is not this cluster’s to restart');
    await running.close();
    await sleep(downMs);
    this.signaling = await startSignalingServer({ port: running.port });
  }

  /**
   * Waits until the open tabs hold one state and one log, and every write acknowledged through
   * a tab's `kv` is in each log; throws `NotConvergedError` naming what differs.
   */
  async expectConverged(): Promise<void> {
    const { problems } = await this.convergence();
    if (problems.length > 0) throw new NotConvergedError('the members did not converge', problems);
  }

  /**
   * What `expectConverged` finds, without throwing: the problems (none when converged) and how
   * many (acknowledged write, member) pairs were checked in the logs.
   */
  async convergence(): Promise<{ problems: string[]; writesVerified: number }> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const tabs = this.live.filter((tab) => tab.alive);
      // A member restarting after a fault does not answer for a moment: ask again.
      const views = await Promise.all(tabs.map((tab) => this.view(tab).catch(() => null)));
      const answered = views.filter((view): view is MemberView => view !== null);
      const settled = answered.length === views.length && settledOnOneState(answered);
      if (settled || Date.now() > deadline) {
        const found = convergenceProblems(answered, this.history.ackedWrites());
        tabs.forEach((tab, i) => {
          if (views[i] === null) found.problems.push(`tab ${tab.label} did not answer`);
        });
        return found;
      }
      await sleep(POLL_MS * 4);
    }
  }

  /**
   * Checks the history of every `kv` call made through the tabs (and every event pages sent to
   * `window.webraftRecord`) for linearizability; throws `NotLinearizableError` with the key whose
   * operations have no legal order, and the longest order that was found.
   */
  expectLinearizable(): CheckResult<KvInput, KvOutput> {
    const verdict = checkLinearizable(kvModel, this.history.operations(), {
      timeoutMs: this.timeoutMs,
    });
    if (verdict.verdict === 'ok') return verdict;
    throw new NotLinearizableError(
      'the history is not linearizable (only operations recorded through tab.kv or ' +
        'window.webraftRecord are judged: a write made any other way to a key read here ' +
        'makes the read look illegal)',
      verdict.verdict === 'illegal'
        ? [
            `${verdict.failingPartition?.label ?? '?'}:`,
            ...(verdict.failingPartition?.explanation ?? '').split('\n'),
          ]
        : [`the checker ran out of budget (${verdict.unknownReason ?? '?'}): no verdict`],
    );
  }

  /** The recorded operations as the checker sees them. */
  operations(): KvOperation[] {
    return this.history.operations();
  }

  /** Closes the browser, deletes its profile and stops the servers this cluster started. */
  async close(): Promise<void> {
    for (const tab of [...this.thaws.keys()]) await this.thaw(tab).catch(() => undefined);
    // A browser that does not close in time (a page held in the debugger, say) is killed.
    await Promise.race([this.context.close().catch(() => undefined), sleep(10_000)]);
    await this.profile.kill();
    this.profile.remove();
    await this.app?.close();
    await this.signaling?.close();
    this.signaling = null;
  }

  /** @internal Runs one recorded operation of tab `client`. */
  async recorded(
    client: string,
    input: KvInput,
    output: (result: unknown) => KvOutput,
    run: () => Promise<unknown>,
  ): Promise<unknown> {
    const id = `${client}:${++this.operationCount}`;
    this.history.record({ kind: 'invoke', id, client, input, at: now() });
    try {
      const result = await run();
      this.history.record({ kind: 'return', id, output: output(result), at: now() });
      return result;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.history.record({
        kind: 'fail',
        id,
        code: typeof code === 'string' ? code : 'ERROR',
        at: now(),
      });
      throw error;
    }
  }

  private forget(tab: TestTab): void {
    const at = this.live.indexOf(tab);
    if (at >= 0) this.live.splice(at, 1);
    if (this.knownLeader === tab) this.knownLeader = null;
    this.thaws.delete(tab);
  }

  private async setDisconnected(tab: TestTab, disconnected: boolean): Promise<void> {
    await tab.page.evaluate(
      ({ handle, disconnected }) =>
        (
          (window as unknown as HandleWindow)[handle] as {
            setDisconnected(disconnected: boolean): Promise<void>;
          }
        ).setDisconnected(disconnected),
      { handle: this.handle, disconnected },
    );
  }

  private async view(tab: TestTab): Promise<MemberView> {
    return tab.page.evaluate(async (handle) => {
      const cluster = (window as unknown as HandleWindow)[handle] as {
        status(): Promise<ClusterStatus>;
        kv: { entries(): Promise<unknown> };
        recentLog(count: number): Promise<MemberView['log']>;
      };
      const status = await cluster.status();
      return {
        id: status.id,
        appliedIndex: status.appliedIndex,
        commitIndex: status.commitIndex,
        state: JSON.stringify(await cluster.kv.entries()),
        log: await cluster.recentLog(1_000_000),
      };
    }, this.handle);
  }

  private async waitForHandle(page: Page): Promise<void> {
    await page.waitForFunction(
      (handle) => (window as unknown as HandleWindow)[handle] !== undefined,
      this.handle,
      { timeout: this.timeoutMs },
    );
  }

  /** Polls `probe` until it gives a value, or throws `ClusterTimeoutError`. */
  async waitFor<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    let lastError: unknown = null;
    for (;;) {
      try {
        const value = await probe();
        if (value !== null) return value;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
        throw new ClusterTimeoutError(
          `timed out after ${this.timeoutMs} ms waiting for ${what}${last}`,
        );
      }
      await sleep(POLL_MS);
    }
  }
}

/** Milliseconds since the epoch, finely: the clock pages use too (timeOrigin + now). */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function json(value: JsonValue): string {
  return JSON.stringify(value);
}

function randomSuffix(): string {
  return Math.floor(Math.random() * 2 ** 32).toString(36);
}

function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
