/**
 * Virtual time for the simulator: one event queue that every timer, message delivery, storage
 * completion and client action goes through, and a `Scheduler` per member whose clock runs at its
 * own rate (skew) and whose events can be held while the member is paused (a frozen tab) or
 * throttled (a hidden tab whose timers fire late). Nothing here reads the real clock, so a seed
 * replays exactly.
 */
import type { Random } from '../../src/core/random.js';
import type { Scheduler, TimerHandle } from '../../src/runtime/scheduler.js';
import { TimedHeap } from './heap.js';

/** What an event is, so faults can treat them differently (throttling delays only timers). */
export type EventKind = 'timer' | 'message' | 'storage' | 'client' | 'control';

/** One scheduled callback. `owner` is the member it runs in, or null for the simulator itself. */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly owner: string | null;
  readonly kind: EventKind;
  /** Null once cancelled. */
  run: (() => void) | null;
  /** Set once a throttled timer was moved to its aligned time, so it is not moved again. */
  aligned: boolean;
}

/** Bounds of one simulation. */
export interface VirtualTimeLimits {
  /** Most events queued at once. */
  readonly queuedEventsMax: number;
}

/** The event queue and the virtual clock (milliseconds since the start of the run). */
export class VirtualTime {
  private nowMs = 0;
  private seqNext = 0;
  private readonly queue: TimedHeap<SimEvent>;
  private readonly paused = new Set<string>();
  private readonly throttlePeriods = new Map<string, number>();
  private readonly held = new Map<string, SimEvent[]>();
  /** An event moved by a resume or a throttle, to its replacement (so handles stay cancellable). */
  private readonly aliases = new WeakMap<SimEvent, SimEvent>();
  /** Events run so far (cancelled and held ones not counted). */
  eventsRun = 0;

  constructor(limits: VirtualTimeLimits = { queuedEventsMax: 1_000_000 }) {
    this.queue = new TimedHeap<SimEvent>(limits.queuedEventsMax);
  }

  get now(): number {
    return this.nowMs;
  }

  /** Schedules `run` after `delayMs` (clamped to >= 0) of virtual time. */
  schedule(delayMs: number, owner: string | null, kind: EventKind, run: () => void): SimEvent {
    const time = this.nowMs + Math.max(0, delayMs);
    const event: SimEvent = { time, seq: this.seqNext++, owner, kind, run, aligned: false };
    this.queue.push(event);
    return event;
  }

  /** Cancels an event that has not run yet (a no-op once it ran), following held/throttled moves. */
  cancel(event: SimEvent): void {
    let current: SimEvent | undefined = event;
    for (let hops = 0; current !== undefined && hops < 1000; hops++) {
      current.run = null;
      current = this.aliases.get(current);
    }
  }

  /** The time of the next queued event, or undefined when the queue is empty. */
  nextTime(): number | undefined {
    return this.queue.peek()?.time;
  }

  /**
   * Pops the next event and runs it, unless its owner is paused (then it is held until resume)
   * or it is a throttled timer (then it moves to the next throttle boundary). Returns the event
   * that ran, or null when nothing ran this step.
   */
  step(): SimEvent | null {
    const event = this.queue.pop();
    if (event === undefined) return null;
    if (event.time < this.nowMs)
      throw new Error(`time went backwards: ${event.time} < ${this.nowMs}`);
    this.nowMs = event.time;
    const run = event.run;
    if (run === null) return null;
    if (event.owner !== null && this.paused.has(event.owner)) {
      this.heldFor(event.owner).push(event);
      return null;
    }
    if (event.kind === 'timer' && event.owner !== null && !event.aligned) {
      const period = this.throttlePeriods.get(event.owner);
      if (period !== undefined) {
        const aligned = Math.ceil(event.time / period) * period;
        const moved: SimEvent = { ...event, time: aligned, seq: this.seqNext++, aligned: true };
        event.run = null;
        this.queue.push(moved);
        this.aliases.set(event, moved);
        return null;
      }
    }
    event.run = null;
    this.eventsRun++;
    run();
    return event;
  }

  /** Advances the clock to `time` with no event (used at phase boundaries). */
  advanceTo(time: number): void {
    const next = this.nextTime();
    if (next !== undefined && next < time)
      throw new Error(`advanceTo(${time}) would skip an event at ${next}`);
    this.nowMs = Math.max(this.nowMs, time);
  }

  /** Holds every event of `owner` until `resume` (a frozen tab runs nothing). */
  pause(owner: string): void {
    this.paused.add(owner);
  }

  isPaused(owner: string): boolean {
    return this.paused.has(owner);
  }

  /** Releases the held events of `owner` now, in the order they were due. */
  resume(owner: string): void {
    if (!this.paused.delete(owner)) return;
    const held = this.held.get(owner) ?? [];
    this.held.delete(owner);
    for (const event of held) {
      if (event.run === null) continue;
      const released: SimEvent = { ...event, time: this.nowMs, seq: this.seqNext++ };
      event.run = null;
      this.aliases.set(event, released);
      this.queue.push(released);
    }
  }

  /** Forgets the held events of `owner` and unpauses it (its process crashed). */
  dropHeld(owner: string): void {
    this.paused.delete(owner);
    this.held.delete(owner);
  }

  /** Timers of `owner` fire only at multiples of `periodMs` (a hidden, throttled tab). */
  throttle(owner: string, periodMs: number): void {
    if (!(periodMs > 0)) throw new RangeError('throttle period must be positive');
    this.throttlePeriods.set(owner, periodMs);
  }

  unthrottle(owner: string): void {
    this.throttlePeriods.delete(owner);
  }

  isThrottled(owner: string): boolean {
    return this.throttlePeriods.has(owner);
  }

  private heldFor(owner: string): SimEvent[] {
    let list = this.held.get(owner);
    if (list === undefined) {
      list = [];
      this.held.set(owner, list);
    }
    return list;
  }
}

/**
 * A member's view of time: its clock reads `offsetMs + virtual time × rate`, and a timer of
 * `delayMs` on that clock fires after `delayMs / rate` of virtual time.
 */
export class MemberScheduler implements Scheduler {
  constructor(
    private readonly time: VirtualTime,
    readonly owner: string,
    readonly rate: number,
    readonly offsetMs: number,
  ) {
    if (!(rate > 0.5 && rate < 2)) throw new RangeError(`clock rate ${rate} is implausible`);
  }

  now(): number {
    return this.offsetMs + this.time.now * this.rate;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.time.schedule(Math.max(0, delayMs) / this.rate, this.owner, 'timer', callback);
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle !== null && typeof handle === 'object') this.time.cancel(handle as SimEvent);
  }
}

/** Lets every promise chain started by the last event settle before the next event runs. */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `action` at the events of a Poisson process of `ratePerSecond` (exponential gaps drawn
 * from `random`), as control events, for as long as `active()` holds.
 */
export function everyPoissonEvent(
  time: VirtualTime,
  random: Random,
  ratePerSecond: number,
  active: () => boolean,
  action: () => void,
): void {
  if (ratePerSecond <= 0) return;
  const next = (): void => {
    const delay = -Math.log(1 - random.float()) * (1000 / ratePerSecond);
    time.schedule(delay, null, 'control', () => {
      if (!active()) return;
      action();
      next();
    });
  };
  next();
}
