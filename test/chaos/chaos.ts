/**
 * The chaos runner (issue 10): the whole system as users run it — real Chromium tabs of the demo
 * (one persistent profile, so IndexedDB is on disk), real WebRTC, the Node signaling server, all
 * from the test cluster users get (src/testing/cluster.ts) — under a seeded fault schedule while clients in every tab write and read through
 * `window.webraft`. Each round crashes the leader's tab under load (the renderer dies: no
 * pagehide, no hand-off) and applies one more fault drawn from the seed: crash another tab,
 * reload a tab, cut a tab off, restart the signaling server, freeze a tab, or fill a tab's
 * disk. Crashed tabs are replaced by new ones, which take back the dead member's identity and log from IndexedDB.
 *
 * Every client operation is streamed to Node as it is invoked (before it is sent, so a tab that
 * dies cannot hide a write) and as it returns; a write whose tab died, or that failed, has an
 * unknown outcome. At the end the history goes to the simulator's linearizability checker, and
 * the runner checks that the live members converged to one state and one log, and that every
 * acknowledged write is in every live member's log.
 */
import { createSeededRandom } from '../../src/core/random.js';
import type { Random } from '../../src/core/random.js';
import type { KvInput } from '../../src/check/kv-model.js';
import { NotLinearizableError, TestCluster } from '../../src/testing/cluster.js';
import type { TestTab } from '../../src/testing/cluster.js';
import type { ClientEvent } from '../../src/testing/history.js';

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

type ChaosWindow = {
  webraft?: { kv: Record<string, (...args: unknown[]) => Promise<unknown>> };
  webraftRecord?: (event: ClientEvent) => Promise<void>;
  chaosClients?: { stop: boolean; running: number };
};

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];

/** Runs `rounds` rounds from `seed`; the report says whether anything broke. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const startedAt = Date.now();
  const log = options.log ?? (() => undefined);
  const tabCount = options.tabs ?? 4;
  const voters = Math.min(3, tabCount);
  const random = createSeededRandom(options.seed);
  const problems: string[] = [];
  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  let leaderKills = 0;
  let writesVerified: number;
  let linearizable = false;
  const cluster = await TestCluster.start({
    room: `chaos-${options.seed}-${Date.now().toString(36)}`,
    timeoutMs: 60_000,
  });
  const clients = new Clients(cluster, random, options.seed);
  try {
    await clients.fill(tabCount);
    await cluster.waitForLeader({ voters });
    for (let round = 1; round <= options.rounds; round++) {
      const fault = FAULT_KINDS[random.int(FAULT_KINDS.length)]!;
      log(`round ${round}/${options.rounds}: kill the leader's tab, then ${fault}`);
      await sleep(500 + random.int(1000)); // Load first.
      if (await crashLeader(cluster)) leaderKills++;
      await sleep(random.int(800));
      await applyFault(fault, cluster, clients, random);
      faults[fault]++;
      await clients.fill(tabCount);
      const since = Date.now();
      const progressed = await cluster
        .waitFor('a write acknowledged after the round', async () =>
          cluster.history.lastAckedWrite > since ? true : null,
        )
        .catch(() => false);
      if (!progressed) {
        problems.push(`round ${round}: no write committed within 60 s`);
        break;
      }
    }
    await clients.stop();
    await cluster.waitForLeader({ voters }).catch(() => {
      problems.push('the cluster did not settle after the last round');
    });
    const converged = await cluster.convergence();
    problems.push(...converged.problems);
    writesVerified = converged.writesVerified;
    // One linearizable read of every key from every tab, recorded like any other operation.
    for (const tab of cluster.tabs) for (const key of KEYS) await tab.kv.get(key);
  } finally {
    await cluster.close();
  }
  try {
    cluster.expectLinearizable();
    linearizable = true;
  } catch (error) {
    if (!(error instanceof NotLinearizableError)) throw error;
    problems.push(error.message);
  }
  const ops = cluster.operations();
  const lost = problems.filter((problem) => problem.startsWith('lost:')).length;
  return {
    rounds: options.rounds,
    seed: options.seed,
    tabs: tabCount,
    leaderKills,
    faults,
    opsInvoked: cluster.history.invoked,
    opsAcked: ops.filter((op) => op.return !== Infinity).length,
    opsUnknown: ops.filter((op) => op.return === Infinity).length,
    lost,
    writesVerified,
    linearizable,
    violations: problems.length,
    problems,
    wallMs: Date.now() - startedAt,
  };
}

async function applyFault(
  fault: FaultKind,
  cluster: TestCluster,
  clients: Clients,
  random: Random,
): Promise<void> {
  const holdMs = 1000 + random.int(1500);
  const tab = cluster.tabs[random.int(cluster.tabs.length)]!;
  switch (fault) {
    case 'killTab':
      await cluster.kill(tab);
      return;
    case 'reload':
      await cluster.reload(tab);
      await clients.start(tab);
      return;
    case 'partition':
      await cluster.partition(tab);
      await sleep(holdMs);
      await cluster.heal(tab);
      return;
    case 'restartSignaling':
      await cluster.restartSignaling(holdMs);
      return;
    case 'freeze':
      await cluster.freeze(tab);
      await sleep(holdMs);
      await cluster.thaw(tab);
      return;
    case 'diskFull':
      // Its next write fails as with a full disk; its page restarts it from its database.
      await cluster.fillDisk(tab);
      await sleep(holdMs);
      return;
  }
}

/** Crashes the leader's tab; false if no tab leads right now. */
async function crashLeader(cluster: TestCluster): Promise<boolean> {
  for (const tab of cluster.tabs) {
    const s = await tab.status().catch(() => null);
    if (s?.role === 'leader') {
      await cluster.kill(tab);
      return true;
    }
  }
  return false;
}

/**
 * Two clients in every tab, writing and reading in the page itself (no round trip to Node per
 * operation) and reporting each operation to the cluster's history as they invoke it.
 */
class Clients {
  private started = 0;

  constructor(
    private readonly cluster: TestCluster,
    private readonly random: Random,
    private readonly seed: number,
  ) {}

  /** Opens tabs until there are `count` (new tabs take back dead members' identities). */
  async fill(count: number): Promise<void> {
    while (this.cluster.tabs.length < count) {
      const [tab] = await this.cluster.open(1);
      await this.start(tab!);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.cluster.tabs.map((tab) =>
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

  async start(tab: TestTab): Promise<void> {
    const run = ++this.started;
    const seed = this.seed * 1_000 + run * 7 + this.random.int(1_000);
    await tab.page.evaluate(
      ({ label, seed, keys }) => {
        const w = window as ChaosWindow;
        const kv = w.webraft!.kv;
        const record = w.webraftRecord!;
        const clients = { stop: false, running: 0 };
        w.chaosClients = clients;
        let state = seed >>> 0;
        const next = (): number => {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          return state / 2 ** 32;
        };
        const now = (): number => performance.timeOrigin + performance.now();
        let sequence = 0;
        // The history holds JSON text; these clients write strings.
        const text = (value: unknown): string | null =>
          value === null || value === undefined ? null : JSON.stringify(value);
        const run = async (client: string): Promise<void> => {
          clients.running++;
          const seen: Record<string, string | null> = {};
          try {
            while (!clients.stop) {
              const key = keys[Math.floor(next() * keys.length)]!;
              const id = `${client}:${++sequence}`;
              const value = JSON.stringify(id);
              const draw = next();
              const input: KvInput =
                draw < 0.4
                  ? { op: 'put', key, value }
                  : draw < 0.7
                    ? { op: 'get', key }
                    : draw < 0.9
                      ? { op: 'cas', key, expected: seen[key] ?? null, next: value }
                      : { op: 'delete', key };
              // Node hears of the operation before the cluster does.
              await record({ kind: 'invoke', id, client, input, at: now() });
              try {
                if (input.op === 'put') {
                  await kv.put!(key, id);
                  await record({ kind: 'return', id, output: {}, at: now() });
                } else if (input.op === 'get') {
                  const entry = (await kv.get!(key)) as { value: unknown } | null;
                  seen[key] = entry === null ? null : text(entry.value);
                  await record({ kind: 'return', id, output: { value: seen[key] }, at: now() });
                } else if (input.op === 'cas') {
                  const expected = input.expected === null ? null : JSON.parse(input.expected);
                  const result = (await kv.cas!(key, expected, id)) as {
                    ok: boolean;
                    current: { value: unknown } | null;
                  };
                  seen[key] = result.ok ? value : text(result.current?.value ?? null);
                  await record({ kind: 'return', id, output: { ok: result.ok }, at: now() });
                } else {
                  await kv.delete!(key);
                  seen[key] = null;
                  await record({ kind: 'return', id, output: {}, at: now() });
                }
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
        void run(`${label}a`);
        void run(`${label}b`);
      },
      // A reloaded tab starts its clients again: new names keep their operation ids apart.
      { label: `${tab.label}.${run}`, seed, keys: KEYS },
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
