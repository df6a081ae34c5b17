/**
 * The chaos runner (issue 10): the whole system as users run it — real Chromium tabs of the demo
 * (one persistent profile, so IndexedDB is on disk), real WebRTC, the Node signaling server —
 * under a seeded fault schedule while clients in every tab write and read through
 * `window.webraft`. Each round crashes the leader's tab under load (the renderer dies: no
 * pagehide, no hand-off) and applies one more fault drawn from the seed: crash another tab,
 * reload a tab, cut a tab off, restart the signaling server, freeze a tab, or fill a tab's disk. Crashed tabs are
 * replaced by new ones, which take back the dead member's identity and log from IndexedDB.
 *
 * Every client operation is streamed to Node as it is invoked (before it is sent, so a tab that
 * dies cannot hide a write) and as it returns; a write whose tab died, or that failed, has an
 * unknown outcome. At the end the history goes to the simulator's linearizability checker, and
 * the runner checks that the live members converged to one state and one log, and that every
 * acknowledged write is in every live member's log.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { createSeededRandom } from '../../src/core/random.js';
import type { Random } from '../../src/core/random.js';
import { crashTab, freezeTab, Profile } from '../e2e/chromium.js';
import { startDemoServers } from '../e2e/demo-server.js';
import type { DemoServers } from '../e2e/demo-server.js';
import { openTab, settled, sleep, status, waitFor } from '../e2e/tabs.js';
import type { DemoWindow } from '../e2e/tabs.js';
import { kvModel } from '../../src/check/kv-model.js';
import type { KvInput, KvOperation, KvOutput } from '../../src/check/kv-model.js';
import { checkLinearizable } from '../../src/check/linearizability.js';

export const FAULT_KINDS = [
  'killTab',
  'reload',
  'partition',
  'restartSignaling',
  'freeze',
  'diskFull',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  readonly rounds: number;
  readonly seed: number;
  /** Tabs kept open (3 voters, the rest learners). Default 4. */
  readonly tabs?: number;
  readonly log?: (line: string) => void;
}

export interface ChaosReport {
  readonly rounds: number;
  readonly seed: number;
  readonly tabs: number;
  readonly leaderKills: number;
  readonly faults: Record<FaultKind, number>;
  readonly opsInvoked: number;
  readonly opsAcked: number;
  /** Writes whose tab died or that failed: they may or may not have taken effect. */
  readonly opsUnknown: number;
  /** Acknowledged writes missing from a live member's log. */
  readonly lost: number;
  /** (acknowledged write, live member) pairs whose presence in the log was checked. */
  readonly writesVerified: number;
  readonly linearizable: boolean;
  readonly violations: number;
  readonly problems: readonly string[];
  readonly wallMs: number;
}

/** What a tab tells Node about an operation. */
type ClientEvent =
  | { kind: 'invoke'; id: string; client: number; input: KvInput; at: number }
  | { kind: 'return'; id: string; output: KvOutput; at: number }
  | { kind: 'fail'; id: string; code: string; at: number };

type ChaosWindow = DemoWindow & {
  chaosRecord?: (event: ClientEvent) => Promise<void>;
  chaosClients?: { stop: boolean; running: number };
};

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
/** How long the cluster may take to commit a write once a round's faults are healed. */
const PROGRESS_DEADLINE_MS = 20_000;

interface Tab {
  readonly page: Page;
  readonly label: string;
}

/** Runs `rounds` rounds from `seed`; the report says whether anything broke. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const startedAt = Date.now();
  const log = options.log ?? (() => undefined);
  const tabCount = options.tabs ?? 4;
  const random = createSeededRandom(options.seed);
  const history = new History();
  const problems: string[] = [];
  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  let leaderKills = 0;
  let writesVerified: number | undefined;
  const servers = await startDemoServers();
  const profile = new Profile();
  const context = await profile.start();
  try {
    await context.exposeBinding('chaosRecord', (_source, event: ClientEvent) =>
      history.record(event),
    );
    // tsx names the client's inner functions through a helper that pages do not have.
    await context.addInitScript('globalThis.__name = (fn) => fn;');
    const room = `chaos-${options.seed}-${Date.now().toString(36)}`;
    const url = servers.pageUrl(room);
    const tabs = new Tabs(context, url, random, options.seed);
    for (let i = 0; i < tabCount; i++) await tabs.open();
    await settled(tabs.pages, Math.min(3, tabCount), tabCount, 60_000);
    for (let round = 1; round <= options.rounds; round++) {
      const fault = FAULT_KINDS[random.int(FAULT_KINDS.length)]!;
      log(`round ${round}/${options.rounds}: kill the leader's tab, then ${fault}`);
      await sleep(500 + random.int(1000)); // Load first.
      if (await tabs.crashLeader()) leaderKills++;
      await sleep(random.int(800));
      await applyFault(fault, tabs, servers, random);
      faults[fault]++;
      await tabs.fill(tabCount);
      const progressed = await history.progressAfter(Date.now(), PROGRESS_DEADLINE_MS);
      if (!progressed) {
        problems.push(`round ${round}: no write committed within ${PROGRESS_DEADLINE_MS} ms`);
        break;
      }
    }
    await tabs.stopClients();
    await settled(tabs.pages, Math.min(3, tabCount), tabCount, 60_000).catch(() => {
      problems.push('the cluster did not settle after the last round');
    });
    const converged = await checkConverged(tabs, history);
    problems.push(...converged.problems);
    writesVerified = converged.writesVerified;
    await tabs.finalReads(history);
  } finally {
    await context.close().catch(() => undefined);
    await profile.kill();
    profile.remove();
    await servers.close();
  }
  const ops = history.operations();
  const verdict = checkLinearizable(kvModel, ops, { timeoutMs: 60_000 });
  if (verdict.verdict !== 'ok') {
    problems.push(
      verdict.verdict === 'illegal'
        ? `not linearizable: ${verdict.failingPartition?.label ?? '?'}: ${verdict.failingPartition?.explanation ?? ''}`
        : `the linearizability check ran out of budget (${verdict.unknownReason ?? '?'})`,
    );
  }
  const lost = problems.filter((problem) => problem.startsWith('lost:')).length;
  return {
    rounds: options.rounds,
    seed: options.seed,
    tabs: tabCount,
    leaderKills,
    faults,
    opsInvoked: history.invoked,
    opsAcked: ops.filter((op) => op.return !== Infinity).length,
    opsUnknown: ops.filter((op) => op.return === Infinity).length,
    lost,
    writesVerified: writesVerified ?? 0,
    linearizable: verdict.verdict === 'ok',
    violations: problems.length,
    problems,
    wallMs: Date.now() - startedAt,
  };
}

async function applyFault(
  fault: FaultKind,
  tabs: Tabs,
  servers: DemoServers,
  random: Random,
): Promise<void> {
  const holdMs = 1000 + random.int(1500);
  switch (fault) {
    case 'killTab':
      await tabs.crash(tabs.pick(random));
      return;
    case 'reload':
      await tabs.reload(tabs.pick(random));
      return;
    case 'partition': {
      const { page } = tabs.pick(random);
      await page.evaluate(() => (window as DemoWindow).webraft!.setDisconnected(true));
      await sleep(holdMs);
      await page.evaluate(() => (window as DemoWindow).webraft!.setDisconnected(false));
      return;
    }
    case 'restartSignaling':
      await servers.stopSignaling();
      await sleep(holdMs);
      await servers.startSignaling();
      return;
    case 'freeze': {
      const thaw = await freezeTab(tabs.pick(random).page);
      await sleep(holdMs);
      await thaw();
      return;
    }
    case 'diskFull':
      // Its next write fails as with a full disk; its page restarts it from its database.
      await tabs
        .pick(random)
        .page.evaluate(() => (window as DemoWindow).webraft!.setStorageFault('quota'));
      await sleep(holdMs);
      return;
  }
}

/** The open tabs, each running two clients. */
class Tabs {
  readonly list: Tab[] = [];
  private opened = 0;

  constructor(
    private readonly context: BrowserContext,
    private readonly url: string,
    private readonly random: Random,
    private readonly seed: number,
  ) {}

  get all(): readonly Tab[] {
    return this.list;
  }

  get pages(): readonly Page[] {
    return this.list.map((tab) => tab.page);
  }

  pick(random: Random): Tab {
    return this.list[random.int(this.list.length)]!;
  }

  async open(): Promise<Tab> {
    const first = this.opened === 0 ? this.context.pages()[0] : undefined;
    const page = await openTab(this.context, this.url, first);
    const tab = { page, label: `t${++this.opened}` };
    this.list.push(tab);
    await this.startClients(tab);
    return tab;
  }

  /** Opens tabs until there are `count` (new tabs take back dead members' identities). */
  async fill(count: number): Promise<void> {
    while (this.list.length < count) await this.open();
  }

  /** Crashes the leader's tab; false if no tab leads right now. */
  async crashLeader(): Promise<boolean> {
    for (const tab of this.list) {
      const s = await status(tab.page).catch(() => null);
      if (s?.role === 'leader') {
        await this.crash(tab);
        return true;
      }
    }
    return false;
  }

  /** Kills the tab's renderer, as a crash or an OOM kill would: nothing runs on the way out. */
  async crash(tab: Tab): Promise<void> {
    this.list.splice(this.list.indexOf(tab), 1);
    await crashTab(tab.page);
    await tab.page.close().catch(() => undefined);
  }

  async reload(tab: Tab): Promise<void> {
    await tab.page.reload();
    await tab.page.waitForFunction(() => (window as DemoWindow).webraft !== undefined, null, {
      timeout: 20_000,
    });
    await this.startClients(tab);
  }

  async stopClients(): Promise<void> {
    await Promise.all(
      this.list.map((tab) =>
        tab.page
          .evaluate(async () => {
            const clients = (window as ChaosWindow).chaosClients;
            if (clients === undefined) return;
            clients.stop = true;
            const deadline = Date.now() + 15_000;
            while (clients.running > 0 && Date.now() < deadline)
              await new Promise((resolve) => setTimeout(resolve, 20));
          })
          .catch(() => undefined),
      ),
    );
  }

  /** One linearizable read of every key from every tab, recorded like any other operation. */
  async finalReads(history: History): Promise<void> {
    for (const tab of this.list) {
      for (const key of KEYS) {
        const id = `${tab.label}:final:${key}`;
        const at = (): Promise<number> =>
          tab.page.evaluate(() => performance.timeOrigin + performance.now());
        history.record({
          kind: 'invoke',
          id,
          client: -1,
          input: { op: 'get', key },
          at: await at(),
        });
        const entry = await tab.page.evaluate(
          (key) => (window as DemoWindow).webraft!.kv.get(key),
          key,
        );
        const value = entry === null ? null : (entry.value as string);
        history.record({ kind: 'return', id, output: { value }, at: await at() });
      }
    }
  }

  private async startClients(tab: Tab): Promise<void> {
    const seed = this.seed * 1_000 + this.opened * 7 + this.random.int(1_000);
    await tab.page.evaluate(
      ({ label, seed, keys }) => {
        const w = window as ChaosWindow;
        const kv = w.webraft!.kv;
        const record = w.chaosRecord!;
        const clients = { stop: false, running: 0 };
        w.chaosClients = clients;
        let state = seed >>> 0;
        const next = (): number => {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          return state / 2 ** 32;
        };
        const now = (): number => performance.timeOrigin + performance.now();
        let sequence = 0;
        const run = async (client: number): Promise<void> => {
          clients.running++;
          const seen: Record<string, string | null> = {};
          try {
            while (!clients.stop) {
              const key = keys[Math.floor(next() * keys.length)]!;
              const id = `${label}:${client}:${++sequence}`;
              const draw = next();
              const input: KvInput =
                draw < 0.4
                  ? { op: 'put', key, value: id }
                  : draw < 0.7
                    ? { op: 'get', key }
                    : draw < 0.9
                      ? { op: 'cas', key, expected: seen[key] ?? null, next: id }
                      : { op: 'delete', key };
              // Node hears of the operation before the cluster does.
              await record({ kind: 'invoke', id, client, input, at: now() });
              try {
                let output: KvOutput;
                if (input.op === 'put') {
                  await kv.put(key, input.value);
                  output = {};
                } else if (input.op === 'get') {
                  const entry = await kv.get(key);
                  const value = entry === null ? null : (entry.value as string);
                  seen[key] = value;
                  output = { value };
                } else if (input.op === 'cas') {
                  const result = await kv.cas(key, input.expected, input.next);
                  seen[key] = result.ok ? input.next : ((result.current?.value as string) ?? null);
                  output = { ok: result.ok };
                } else {
                  await kv.delete(key);
                  seen[key] = null;
                  output = {};
                }
                await record({ kind: 'return', id, output, at: now() });
              } catch (error) {
                const code = (error as { code?: string }).code ?? 'ERROR';
                await record({ kind: 'fail', id, code, at: now() });
              }
              await new Promise((resolve) => setTimeout(resolve, 30 + next() * 90));
            }
          } finally {
            clients.running--;
          }
        };
        void run(1 + Math.floor(next() * 1e6) * 2);
        void run(2 + Math.floor(next() * 1e6) * 2);
      },
      { label: tab.label, seed, keys: KEYS },
    );
  }
}

/** The client operations as Node heard of them. */
class History {
  private readonly invokes = new Map<string, Extract<ClientEvent, { kind: 'invoke' }>>();
  private readonly endings = new Map<string, Exclude<ClientEvent, { kind: 'invoke' }>>();
  private clientIds = new Map<string, number>();
  private lastAckedWriteAt = 0;

  get invoked(): number {
    return this.invokes.size;
  }

  record(event: ClientEvent): void {
    if (event.kind === 'invoke') {
      this.invokes.set(event.id, event);
      return;
    }
    this.endings.set(event.id, event);
    const input = this.invokes.get(event.id)?.input;
    if (event.kind === 'return' && input !== undefined && input.op !== 'get')
      this.lastAckedWriteAt = Math.max(this.lastAckedWriteAt, event.at);
  }

  /** Resolves true once a write begun after `since` (ms, machine clock) is acknowledged. */
  async progressAfter(since: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.lastAckedWriteAt > since) return true;
      await sleep(50);
    }
    return false;
  }

  /** Acknowledged writes, with the value each left in the log (puts and successful swaps). */
  ackedWriteValues(): string[] {
    const values: string[] = [];
    for (const [id, ending] of this.endings) {
      const input = this.invokes.get(id)?.input;
      if (ending.kind !== 'return' || input === undefined) continue;
      if (input.op === 'put') values.push(input.value);
      if (input.op === 'cas' && (ending.output as { ok: boolean }).ok) values.push(input.next);
    }
    return values;
  }

  /**
   * The history for the checker: a read that failed had no effect and is left out; a write that
   * failed or whose tab died may have taken effect, so its outcome is unknown.
   */
  operations(): KvOperation[] {
    const ops: KvOperation[] = [];
    for (const [id, invoke] of this.invokes) {
      const ending = this.endings.get(id);
      const clientId = this.clientId(`${id.split(':')[0]}:${invoke.client}`);
      if (ending?.kind === 'return') {
        ops.push({
          clientId,
          input: invoke.input,
          call: invoke.at,
          return: ending.at,
          output: ending.output,
        });
      } else if (invoke.input.op !== 'get') {
        ops.push({
          clientId,
          input: invoke.input,
          call: invoke.at,
          return: Infinity,
          output: undefined,
        });
      }
    }
    return ops;
  }

  private clientId(name: string): number {
    let id = this.clientIds.get(name);
    if (id === undefined) {
      id = this.clientIds.size + 1;
      this.clientIds.set(name, id);
    }
    return id;
  }
}

/**
 * The live members hold one state and one log, and every acknowledged write is in each one's
 * log (where it still holds that part of the log: a snapshot may have compacted it).
 */
async function checkConverged(
  tabs: Tabs,
  history: History,
): Promise<{ problems: string[]; writesVerified: number }> {
  const problems: string[] = [];
  let writesVerified = 0;
  const views = await waitFor(
    async () => {
      const all = await Promise.all(
        tabs.all.map((tab) =>
          tab.page.evaluate(async () => {
            const cluster = (window as DemoWindow).webraft!;
            const s = await cluster.status();
            return {
              id: s.id,
              applied: s.appliedIndex,
              commit: s.commitIndex,
              entries: JSON.stringify(await cluster.kv.entries()),
              log: await cluster.recentLog(1_000_000),
            };
          }),
        ),
      );
      const same = all.every((v) => v.applied === all[0]!.applied && v.applied === v.commit);
      return same && all.every((v) => v.entries === all[0]!.entries) ? all : null;
    },
    'the live members to converge',
    30_000,
  ).catch(() => null);
  if (views === null) return { problems: ['the live members did not converge'], writesVerified: 0 };
  const byIndex = new Map<number, string>();
  for (const view of views) {
    for (const line of view.log) {
      const seen = byIndex.get(line.index);
      const mine = `${line.term} ${line.summary}`;
      if (seen === undefined) byIndex.set(line.index, mine);
      else if (seen !== mine) problems.push(`logs differ at index ${line.index}`);
    }
  }
  for (const view of views) {
    if (view.log[0]?.index !== 1) continue; // Compacted: the state comparison above covers it.
    const written = new Set(view.log.map((line) => line.summary.split(' ').pop()));
    for (const value of history.ackedWriteValues()) {
      writesVerified++;
      if (!written.has(JSON.stringify(value))) problems.push(`lost: ${value} on ${view.id}`);
    }
  }
  return { problems, writesVerified };
}
