/**
 * The tabs of one room (autopilot mode): the room is the signaling server's list of tabs, and
 * during the safety phase tabs come and go at the seed's rates — a new tab joins (a fresh id and
 * an empty disk, in the room but in no configuration: the autopilot must add it), a tab closes
 * for good (saying goodbye, so the others count it gone at once, or just vanishing), a tab
 * reloads (out of the room and crashed, back shortly after with the same id and disk), a tab
 * freezes long enough for a voter to count as silent. The network, crash and pause faults of
 * faults.ts strike as well. The room never empties and holds at most `roomTabsMax` tabs.
 *
 * A closed tab never returns, so a close must leave every configuration that can still come into
 * force with a majority of live voters (else nothing could commit its removal): a voter closes
 * only under a committed configuration with no other configuration entry in any log, and only if
 * fewer than half of its voters are then closed. Every change the policy makes keeps that true:
 * it removes closed members, promotes present ones, and demotes a live voter only when no closed
 * one is left to demote instead.
 *
 * Edge members (`--edge N`) are in the room from the start and are no tabs: they never close,
 * reload or freeze (crashes and pauses still strike them, rarely, from faults.ts). Every tab may
 * close, so the room may be left with edge members only — but never with members that may not
 * vote only (an edge member configured never to vote cannot carry a room alone).
 */
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';
import type { AutopilotHosts } from './autopilot-host.js';
import type { SimCluster } from './cluster.js';
import type { AutopilotOptions } from './options.js';
import type { Trace } from './trace.js';
import { everyPoissonEvent } from './virtual-time.js';
import type { VirtualTime } from './virtual-time.js';

/** How long a closing tab keeps running after handing leadership away (MemberHost.leave). */
const LEAVE_GRACE_MS = 150;
/** A reload keeps a tab out of the room at most this share of `removeAfterMs`: it stays a member. */
const RELOAD_ABSENCE_SHARE = 0.5;

/** Counters for reports. */
export interface TabStats {
  joined: number;
  closedAnnounced: number;
  closedVanished: number;
  /** Closes not done: they would have left a configuration without a live majority. */
  closesDeferred: number;
  reloaded: number;
  frozen: number;
}

/** What the tabs need from the simulation. */
export interface TabsParts {
  readonly time: VirtualTime;
  readonly random: Random;
  readonly options: AutopilotOptions;
  readonly cluster: SimCluster;
  readonly trace: Trace;
  /** Edge members: in the room, but no tabs. */
  readonly edge: ReadonlySet<MemberId>;
  /** Members configured never to vote. */
  readonly neverVote: ReadonlySet<MemberId>;
}

/** The room's tabs and their lifecycle; see the module comment. */
export class Tabs {
  private active = false;
  private readonly room = new Set<MemberId>();
  /** Tabs reloading: out of the room for a moment, and counted against its size. */
  private readonly away = new Set<MemberId>();
  /** The tab frozen now, if any. */
  private frozenTab: MemberId | null = null;
  /** Tabs closed for good (their members retired, at once or after the leave grace). */
  private readonly closed = new Set<MemberId>();
  /** Set once the hosts exist (they need the room, the room needs them). */
  hosts: AutopilotHosts | null = null;
  readonly stats: TabStats = {
    joined: 0,
    closedAnnounced: 0,
    closedVanished: 0,
    closesDeferred: 0,
    reloaded: 0,
    frozen: 0,
  };

  constructor(private readonly parts: TabsParts) {}

  /** Whether the tab of `id` is in the room now. */
  has(id: MemberId): boolean {
    return this.room.has(id);
  }

  /** The members in the room now (tabs and edge members), in id order. */
  get present(): MemberId[] {
    return [...this.room].sort();
  }

  /** The tabs in the room now (no edge members), in id order. */
  private get tabs(): MemberId[] {
    const { edge } = this.parts;
    return edge.size === 0 ? this.present : this.present.filter((id) => !edge.has(id));
  }

  /** Puts the tab of an initial member in the room. */
  enter(id: MemberId): void {
    this.room.add(id);
  }

  /** Starts the tab processes at the seed's rates. */
  start(): void {
    this.active = true;
    const { joinRatePerSecond, closeRatePerSecond, reloadRatePerSecond, freezeRatePerSecond } =
      this.parts.options;
    this.poisson(joinRatePerSecond, () => this.join());
    this.poisson(closeRatePerSecond, () => this.close());
    this.poisson(reloadRatePerSecond, () => this.reload());
    this.poisson(freezeRatePerSecond, () => this.freeze());
  }

  /** No more tabs come or go (the liveness phase); reloads under way still come back. */
  stop(): void {
    this.active = false;
  }

  private poisson(ratePerSecond: number, action: () => void): void {
    const { time, random } = this.parts;
    everyPoissonEvent(time, random, ratePerSecond, () => this.active, action);
  }

  private join(): void {
    const { cluster, trace, options } = this.parts;
    if (this.room.size + this.away.size >= options.roomTabsMax || !cluster.canCreate) return;
    const id = `m${cluster.everyId.length + 1}`;
    cluster.create(id, null);
    cluster.start(id);
    this.room.add(id);
    this.stats.joined++;
    trace.log(() => `tab ${id} opens (a new member, empty, not in the configuration)`);
  }

  private close(): void {
    const { cluster, random, trace, time, options } = this.parts;
    if (this.room.size < 2) return; // The room never empties.
    const tabs = this.tabs;
    if (tabs.length === 0) return;
    const id = tabs[random.int(tabs.length)]!;
    const mayVote = (other: MemberId): boolean => !this.parts.neverVote.has(other);
    if (!this.present.some((other) => other !== id && mayVote(other))) return;
    if (!this.mayClose(id)) {
      this.stats.closesDeferred++;
      return;
    }
    this.room.delete(id);
    this.closed.add(id);
    this.hosts?.close(id);
    if (random.float() >= options.announcedCloseFraction) {
      this.stats.closedVanished++;
      trace.log(() => `tab ${id} vanishes for good`);
      cluster.retire(id);
      return;
    }
    // MemberHost.leave: hand leadership to the most caught-up reachable voter, then stop.
    this.stats.closedAnnounced++;
    trace.log(() => `tab ${id} closes for good and tells the room`);
    this.hosts?.memberLeft(id);
    time.schedule(0, id, 'client', () => {
      const member = cluster.member(id);
      if (member === null || member.status().role !== 'leader') return;
      const matches = member.matchIndexes();
      const successor = member
        .status()
        .voters.filter((v) => v !== id && this.room.has(v) && cluster.isUp(v))
        .sort((a, b) => (matches.get(b) ?? 0) - (matches.get(a) ?? 0))[0];
      if (successor !== undefined) member.transferLeadership(successor, { leaving: true });
    });
    time.schedule(LEAVE_GRACE_MS, null, 'control', () => cluster.retire(id));
  }

  /** See the module comment: a close must leave a live majority in every possible configuration. */
  private mayClose(id: MemberId): boolean {
    const { cluster } = this.parts;
    const leader = cluster.believedLeader();
    const member = leader === null ? null : cluster.member(leader);
    if (member === null) return false;
    if (cluster.anyConfigEntryAfter(member.inspect().commit)) return false;
    const { voters } = member.status();
    const closedVoters = voters.filter((v) => v === id || this.closed.has(v)).length;
    return 2 * closedVoters < voters.length;
  }

  /** A reload: out of the room and crashed, back with the same id and disk a moment later. */
  private reload(): void {
    const { cluster, random, trace, time, options } = this.parts;
    const up = this.tabs.filter((id) => cluster.isUp(id));
    if (up.length === 0) return;
    const id = up[random.int(up.length)]!;
    const awayMs = random.float() * RELOAD_ABSENCE_SHARE * options.removeAfterMs;
    this.room.delete(id);
    this.away.add(id);
    cluster.crash(id);
    this.stats.reloaded++;
    trace.log(() => `tab ${id} reloads (back in ${awayMs.toFixed(0)} ms)`);
    // Comes back even after the safety phase: a reload under way always ends.
    time.schedule(awayMs, null, 'control', () => {
      this.away.delete(id);
      if (!cluster.isUp(id)) cluster.start(id);
      this.room.add(id);
      trace.log(() => `tab ${id} reloaded`);
    });
  }

  /**
   * A frozen tab: it stays in the room and runs nothing, long enough to count as silent. One at a
   * time: with most tabs frozen at once (on top of the pauses and crashes of faults.ts) nothing
   * could replace anyone, and a short safety phase would end with no work done (sim seed 1503).
   */
  private freeze(): void {
    const { cluster, random, trace, time, options } = this.parts;
    if (this.frozenTab !== null) return;
    const up = this.tabs.filter((id) => cluster.isUp(id) && !time.isPaused(id));
    if (up.length === 0) return;
    const id = up[random.int(up.length)]!;
    const { unhealthyAfterMs, freezeDurationMaxMs } = options;
    const durationMs = unhealthyAfterMs + random.float() * (freezeDurationMaxMs - unhealthyAfterMs);
    time.pause(id);
    this.frozenTab = id;
    this.stats.frozen++;
    trace.log(() => `tab ${id} freezes for ${durationMs.toFixed(0)} ms`);
    time.schedule(durationMs, null, 'control', () => {
      this.frozenTab = null;
      time.resume(id);
    });
  }
}
