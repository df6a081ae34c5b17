/**
 * Runs one seed end to end: a safety phase with faults and membership churn everywhere, then a
 * liveness phase (stop the churn, heal, restart every member that is not retired; a write must
 * commit and every member of the final configuration converge within a budget), then the
 * linearizability check of the settled client history. Same seed, same options → same result,
 * byte for byte (`historyDigest`).
 */
import type { CoreBug } from '../../src/core/config.js';
import { hashText } from '../../src/state/digest.js';
import type { Violation } from './invariants.js';
import { checkLinearizable } from '../../src/check/linearizability.js';
import type { CheckVerdict } from '../../src/check/linearizability.js';
import { kvModel } from '../../src/check/kv-model.js';
import { drawSimOptions } from './options.js';
import type { MembershipMode, SimOptions, StorageBackend } from './options.js';
import type { SimMember } from './cluster.js';
import type { SettleSummary } from './history.js';
import { Simulation } from './simulation.js';
import type { RunStop } from './simulation.js';

export interface RunSeedOptions {
  readonly members: 3 | 5;
  /** 'indexeddb' also runs every member's disk through IndexedDbStorage (fake-indexeddb). */
  readonly storage?: StorageBackend;
  readonly bug?: CoreBug;
  /** Who changes the membership; `mixed` (the default) draws it from the seed. */
  readonly membership?: MembershipMode | 'mixed';
  /** Initial members that are edge members (options.ts `EdgeOptions`); default 0. */
  readonly edge?: number;
  /** Stop the run at the first violation (fast bug hunting). */
  readonly stopAtFirstViolation?: boolean;
  /** Keep a trace and return its tail with the result. */
  readonly verbose?: boolean;
}

export interface SeedResult {
  readonly seed: number;
  readonly members: number;
  readonly bug: CoreBug | null;
  /** The membership mode this seed ran (drawn from the seed unless asked for). */
  readonly membership: MembershipMode;
  readonly violations: readonly Violation[];
  readonly violationCount: number;
  readonly linearizable: CheckVerdict | 'skipped';
  readonly opsChecked: number;
  readonly ops: { recorded: number; acked: number; unknownApplied: number; unknownDropped: number };
  readonly virtualMs: number;
  readonly events: number;
  readonly wallMs: number;
  readonly checkMs: number;
  /** Digest of the whole observable history: equal for two runs of one seed. */
  readonly historyDigest: string;
  /** Counts summed by the command line: snapshots, configuration changes, members. */
  readonly counters: Readonly<Record<string, number>>;
  readonly stats: Readonly<Record<string, unknown>>;
  readonly options: SimOptions;
  /** The last lines of the trace (verbose runs only). */
  readonly trace: readonly string[];
}

/** Fewest acknowledged operations a run must achieve (TESTING.md 5). */
export const ACKED_OPS_MIN = 10;
/** After the probe's write commits, clients keep working this long (throughput when healthy). */
const HEALTHY_WORK_MS = 1000;
/** How often convergence is checked (virtual ms). */
const CONVERGE_CHECK_EVERY_MS = 20;
/** Once healed and the clients done, the autopilot's budget to settle, before its timings. */
const AUTOPILOT_SETTLE_MS = 8000;
/** A settled autopilot must stay settled this long, deciding nothing. */
const AUTOPILOT_STABLE_MS = 1000;
/** Trace lines returned with a verbose result. */
const TRACE_TAIL_LINES = 400;

/** Runs one seed. */
export async function runSeed(seed: number, options: RunSeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const simOptions = drawSimOptions(seed, {
    members: options.members,
    bugs: options.bug === undefined ? [] : [options.bug],
    storageBackend: options.storage ?? 'memory',
    membership: options.membership ?? 'mixed',
    edge: options.edge ?? 0,
  });
  const sim = new Simulation(
    simOptions,
    options.stopAtFirstViolation ?? false,
    options.verbose ?? false,
  );
  sim.startCluster();
  sim.faults.start();
  sim.startMembership();
  sim.workload.start();
  let stop = await sim.runUntil(simOptions.safetyMs);
  if (stop === 'time') stop = await livenessPhase(sim);
  const checkStarted = performance.now();
  const settled = sim.history.settle(sim.applyLog);
  for (const mismatch of settled.mismatches) sim.report('clientResult', mismatch);
  let verdict: CheckVerdict | 'skipped' = 'skipped';
  let opsChecked = 0;
  if (stop !== 'violation' || !options.stopAtFirstViolation)
    ({ verdict, opsChecked } = checkHistory(sim, settled, stop));
  const checkMs = performance.now() - checkStarted;
  await sim.close();
  return {
    seed,
    members: options.members,
    bug: options.bug ?? null,
    membership: simOptions.membershipMode,
    violations: sim.invariants.violations,
    violationCount: sim.invariants.violationCount,
    linearizable: verdict,
    opsChecked,
    ops: {
      recorded: sim.history.size,
      acked: settled.acked,
      unknownApplied: settled.unknownApplied,
      unknownDropped: settled.unknownDropped,
    },
    virtualMs: sim.time.now,
    events: sim.time.eventsRun,
    wallMs: performance.now() - started,
    checkMs,
    historyDigest: historyDigest(sim),
    counters: sim.counters(),
    stats: {
      network: sim.network.stats,
      faults: sim.faults.stats,
      churn: sim.churn.stats,
      autopilot: sim.autopilot?.stats,
      tabs: sim.tabs?.stats,
      invariants: sim.invariants.stats,
      crashes: sim.cluster.crashes,
    },
    options: simOptions,
    trace: sim.trace.tail(TRACE_TAIL_LINES),
  };
}

/** The linearizability check of the settled history, and the throughput floor. */
function checkHistory(
  sim: Simulation,
  settled: SettleSummary,
  stop: RunStop,
): { verdict: CheckVerdict; opsChecked: number } {
  const check = checkLinearizable(kvModel, settled.operations, { timeoutMs: 20_000 });
  if (check.verdict === 'illegal') {
    const failing = check.failingPartition;
    sim.report(
      'linearizability',
      `${failing?.label ?? '?'} is not linearizable\n${failing?.explanation ?? ''}`,
    );
  } else if (check.verdict === 'unknown') {
    sim.report('checkerUnknown', `checker gave up: ${check.unknownReason ?? '?'}`);
  }
  if (stop !== 'violation' && settled.acked < ACKED_OPS_MIN) {
    sim.report(
      'throughput',
      `only ${settled.acked} operations acknowledged (minimum ${ACKED_OPS_MIN})`,
    );
  }
  return { verdict: check.verdict, opsChecked: check.opsChecked };
}

/**
 * Stops the churn and heals everything, then requires (1) a write acknowledged within the
 * liveness budget and (2) every member of the final configuration converged on one state within
 * the convergence budget once clients stop. The final configuration has a live quorum: every
 * member that is not retired runs again; retired members are those whose removal committed, and
 * wiped ones, of which a configuration names at most one, among at least three voters.
 */
async function livenessPhase(sim: Simulation): Promise<'time' | 'violation' | 'budget'> {
  const { livenessBudgetMs, convergeBudgetMs, workload } = sim.options;
  sim.stopMembership();
  sim.faults.heal();
  const healedAt = sim.time.now;
  let probe: boolean | null = null;
  void sim.workload.probe(healedAt + livenessBudgetMs).then((ok) => (probe = ok));
  let stop = await sim.runUntil(healedAt + livenessBudgetMs, () => probe !== null);
  if (stop === 'violation' || stop === 'budget') return stop;
  if (probe !== true) {
    sim.report(
      'liveness',
      `no write committed within ${livenessBudgetMs} ms after healing; ${describeMembers(sim)}`,
    );
    return 'time';
  }
  stop = await sim.runUntil(sim.time.now + HEALTHY_WORK_MS);
  if (stop === 'violation' || stop === 'budget') return stop;
  sim.workload.stopIssuingAt = sim.time.now;
  const clientsDone =
    sim.time.now + workload.opDeadlineMs + sim.options.timing.proposeTimeoutMs + 500;
  stop = await sim.runUntil(clientsDone, () => sim.workload.idle);
  if (stop === 'violation' || stop === 'budget') return stop;
  stop = await autopilotSettles(sim);
  if (stop === 'violation' || stop === 'budget') return stop;
  const convergeStart = sim.time.now;
  const budgetMs = convergeBudgetMs + snapshotShippingMs(sim);
  let lastCheck = -Infinity;
  const converged = (): boolean => {
    if (sim.time.now - lastCheck < CONVERGE_CHECK_EVERY_MS) return false;
    lastCheck = sim.time.now;
    return divergence(sim) === null;
  };
  stop = await sim.runUntil(convergeStart + budgetMs, converged);
  if (stop === 'violation' || stop === 'budget') return stop;
  const problem = divergence(sim);
  if (problem !== null)
    sim.report(
      'convergence',
      `not converged ${Math.round(budgetMs)} ms after clients stopped: ${problem}; ${describeMembers(sim)}`,
    );
  return 'time';
}

/**
 * Time a lagging member may need on top of the convergence budget to receive the leader's
 * snapshot: one chunk at a time, each a round trip and, on a lossy link, a retransmission a few
 * ticks later. Seeds draw chunks as small as 32 bytes (a stressor; 128 KiB by default), so a
 * few kilobytes of state can take dozens of round trips (seed 8491: 75 chunks of 47 bytes).
 */
function snapshotShippingMs(sim: Simulation): number {
  const leader = currentLeader(sim);
  const machine = leader === null ? null : sim.cluster.incarnation(leader.status().id)?.machine;
  if (machine === undefined || machine === null) return 0;
  const chunks = Math.ceil(
    machine.inner.snapshot().length / sim.options.compaction.snapshotChunkBytes,
  );
  const { network, timing, edge } = sim.options;
  const delayMaxMs = Math.max(network.delayMaxMs, sim.edgeIds.size > 0 ? edge.delayMaxMs : 0);
  return chunks * (2 * delayMaxMs + 4 * timing.tickMs);
}

/**
 * Autopilot seeds: with every fault healed and the room still, the autopilot must reach what it
 * promises (see `autopilotShortfall`) within its budget, stay there (no further decision), and the
 * cluster must commit under that configuration.
 */
async function autopilotSettles(sim: Simulation): Promise<RunStop> {
  const { tabs, autopilot } = sim;
  if (tabs === null || autopilot === null) return 'time';
  const { removeAfterMs, unhealthyAfterMs } = sim.options.autopilot;
  const budgetMs = AUTOPILOT_SETTLE_MS + 2 * removeAfterMs + 2 * unhealthyAfterMs;
  const healedAt = sim.time.now;
  let lastCheck = -Infinity;
  const settled = (): boolean => {
    if (sim.time.now - lastCheck < CONVERGE_CHECK_EVERY_MS) return false;
    lastCheck = sim.time.now;
    return autopilotShortfall(sim) === null;
  };
  let stop = await sim.runUntil(healedAt + budgetMs, settled);
  if (stop === 'violation' || stop === 'budget') return stop;
  const problem = autopilotShortfall(sim);
  if (problem !== null) {
    sim.report(
      'autopilot',
      `not settled ${budgetMs} ms after clients stopped: ${problem}; ${describeMembers(sim)}`,
    );
    return 'time';
  }
  const decisions = autopilot.decisions;
  stop = await sim.runUntil(sim.time.now + AUTOPILOT_STABLE_MS);
  if (stop === 'violation' || stop === 'budget') return stop;
  const after = autopilotShortfall(sim);
  if (after !== null || autopilot.decisions !== decisions) {
    sim.report(
      'autopilot',
      `settled, then ${after ?? `${autopilot.decisions - decisions} more decision(s)`} within ${AUTOPILOT_STABLE_MS} ms; ${describeMembers(sim)}`,
    );
    return 'time';
  }
  let probe: boolean | null = null;
  const deadline = sim.time.now + sim.options.livenessBudgetMs;
  void sim.workload.probe(deadline, sim.options.workload.clients + 1).then((ok) => (probe = ok));
  stop = await sim.runUntil(deadline, () => probe !== null);
  if (stop === 'violation' || stop === 'budget') return stop;
  if (probe !== true)
    sim.report('autopilot', `no write committed once settled; ${describeMembers(sim)}`);
  return 'time';
}

/** The largest odd number not above `count` (0 for 0). */
const oddFloor = (count: number): number => (count % 2 === 1 ? count : Math.max(0, count - 1));

/**
 * What the autopilot promises of a still room, or null once it holds: the members are exactly the
 * tabs (and edge members) in the room (newcomers added, departed removed), every one running; the
 * voters number the target, or the largest odd count the members that may vote allow below it,
 * and are all heard from; no member configured never to vote votes, and as many preferred (edge)
 * members vote as can; and everything in the leader's log is committed (the last configuration
 * included).
 */
export function autopilotShortfall(sim: Simulation): string | null {
  const tabs = sim.tabs?.present ?? [];
  const leader = currentLeader(sim);
  if (leader === null) return 'no leader';
  const status = leader.status();
  const members = [...status.voters, ...status.learners];
  const down = tabs.filter((id) => sim.cluster.member(id) === null);
  if (down.length > 0) return `tabs not running: ${down.join(',')}`;
  const missing = tabs.filter((id) => !members.includes(id));
  if (missing.length > 0) return `tabs in the room but no members: ${missing.join(',')}`;
  const departed = members.filter((id) => !tabs.includes(id));
  if (departed.length > 0) return `members whose tab left: ${departed.join(',')}`;
  const { votersTarget, unhealthyAfterMs } = sim.options.autopilot;
  const neverVote = new Set(sim.options.edge.neverVote);
  const mayVote = tabs.filter((id) => !neverVote.has(id));
  const expected = oddFloor(Math.min(votersTarget, mayVote.length));
  if (status.voters.length !== expected)
    return `${status.voters.length} voters, expected ${expected} (target ${votersTarget}, ${mayVote.length} of ${tabs.length} in the room may vote)`;
  const barred = status.voters.filter((id) => neverVote.has(id));
  if (barred.length > 0) return `voters configured never to vote: ${barred.join(',')}`;
  const preferred = mayVote.filter((id) => sim.edgeIds.has(id));
  const preferredVoting = status.voters.filter((id) => preferred.includes(id)).length;
  if (preferredVoting < Math.min(preferred.length, expected))
    return `${preferredVoting} of ${preferred.length} edge members vote, with ${expected} voters`;
  const silence = leader.silenceMs();
  const silent = status.voters.filter((id) => (silence.get(id) ?? 0) >= unhealthyAfterMs);
  if (silent.length > 0) return `silent voters: ${silent.join(',')}`;
  if (status.commitIndex !== status.lastIndex)
    return `leader ${status.id} committed ${status.commitIndex} of ${status.lastIndex}`;
  return null;
}

/**
 * Why the members of the final configuration have not converged yet, or null when they have. The
 * final configuration is the one in force at the leader of the highest term; members outside it
 * (removed, or never added) are not required to follow, nor are members whose storage was wiped.
 */
export function divergence(sim: Simulation): string | null {
  const leader = currentLeader(sim);
  if (leader === null) return 'no leader';
  const config = leader.status();
  let reference: { id: string; applied: number; digest: string } | null = null;
  const committed = sim.invariants.committedIndex;
  for (const id of [...config.voters, ...config.learners]) {
    if (sim.cluster.isWiped(id)) continue; // Its storage is gone: it never runs again.
    const incarnation = sim.cluster.incarnation(id);
    const member = incarnation?.member;
    if (incarnation === null || member === null || member === undefined)
      return `${id} is not running`;
    const status = member.status();
    if (status.commitIndex < committed) return `${id} commit ${status.commitIndex} < ${committed}`;
    if (status.appliedIndex !== status.commitIndex)
      return `${id} applied ${status.appliedIndex} of ${status.commitIndex}`;
    if (reference === null) {
      reference = { id, applied: status.appliedIndex, digest: incarnation.machine.inner.digest() };
    } else if (reference.applied !== status.appliedIndex) {
      return `${id} applied ${status.appliedIndex}, ${reference.id} applied ${reference.applied}`;
    } else if (incarnation.machine.inner.digest() !== reference.digest) {
      return `${id} and ${reference.id} applied index ${status.appliedIndex} to different states`;
    }
  }
  return null;
}

/** The live member that leads in the highest term, if any. */
function currentLeader(sim: Simulation): SimMember | null {
  let best: SimMember | null = null;
  for (const id of sim.cluster.ids) {
    const member = sim.cluster.member(id);
    const status = member?.status();
    if (member === null || status === undefined || status.role !== 'leader') continue;
    if (best === null || status.term > best.status().term) best = member;
  }
  return best;
}

/**
 * Every running member as `id role term last/commit voters [learners]`, to explain a liveness or
 * convergence failure without a replay.
 */
function describeMembers(sim: Simulation): string {
  const parts: string[] = [];
  for (const id of sim.cluster.ids) {
    const status = sim.cluster.member(id)?.status();
    if (status === undefined) {
      parts.push(`${id} down`);
      continue;
    }
    const learners = status.learners.length > 0 ? ` [${status.learners.join(',')}]` : '';
    parts.push(
      `${id} ${status.role} t${status.term} ${status.lastIndex}/${status.commitIndex} {${status.voters.join(',')}}${learners}`,
    );
  }
  return `members: ${parts.join('; ')}`;
}

function historyDigest(sim: Simulation): string {
  const states = sim.cluster.everyId.map(
    (id) => sim.cluster.incarnation(id)?.machine.inner.digest() ?? '-',
  );
  const ops = sim.history.ops.map((op) => [
    op.client,
    op.input,
    op.call,
    op.return,
    op.output ?? null,
    op.status,
  ]);
  return hashText(JSON.stringify({ ops, states, events: sim.time.eventsRun, now: sim.time.now }));
}
