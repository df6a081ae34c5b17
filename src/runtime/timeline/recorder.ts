/**
 * One member's message timeline: its vector clock and a bounded ring of its latest events. The
 * driver (member.ts) holds a recorder only while recording and calls it from the places it
 * already does I/O; the core never knows. A member that does not record pays a null check per
 * send batch and per received message, and sends frames with no clock.
 */
import { assert } from '../../core/errors.js';
import type { Message } from '../../core/messages.js';
import type { RaftStatus } from '../../core/raft.js';
import type { MemberId } from '../../core/types.js';
import { CLOCK_ENTRIES_MAX, clockOf, withClock } from '../../transport/vector-clock.js';
import type { VectorClock } from '../../transport/vector-clock.js';
import type { TimelineEvent, TimelineEventBody, TimelineOptions, TimelineStats } from './events.js';

export const TIMELINE_EVENTS_DEFAULT = 2000;
export const TIMELINE_EVENTS_MIN = 16;
export const TIMELINE_EVENTS_MAX = 100_000;

/** What the recorder compares to notice elections and commits. */
export type ObservedState = Pick<RaftStatus, 'role' | 'term' | 'leaderId' | 'commit'>;

export class TimelineRecorder {
  private ring: (TimelineEvent | undefined)[];
  /** Where the next event goes; the oldest event is there too once the ring is full. */
  private next = 0;
  private size = 0;
  private overwritten = 0;
  private clockEntriesRefused = 0;
  private heartbeats: boolean;
  /** The live clock; every event stores a frozen copy, which also rides on its message. */
  private readonly clock = new Map<MemberId, number>();
  /** Kept as given: a status object the driver made anyway, never copied. */
  private last: ObservedState | null = null;

  constructor(
    readonly self: MemberId,
    private readonly wallClock: () => number,
    options: TimelineOptions = {},
  ) {
    this.ring = new Array<TimelineEvent | undefined>(checkedEventsMax(options));
    this.heartbeats = options.heartbeats ?? false;
    this.clock.set(self, 0); // Its own entry first: a full clock must still count this member.
  }

  /** Takes new options; a new ring size keeps the newest events that fit. */
  configure(options: TimelineOptions): void {
    this.heartbeats = options.heartbeats ?? this.heartbeats;
    if (options.eventsMax === undefined || options.eventsMax === this.ring.length) return;
    const kept = this.events().slice(-checkedEventsMax(options));
    this.ring = new Array<TimelineEvent | undefined>(checkedEventsMax(options));
    this.next = 0;
    this.size = 0;
    for (const event of kept) this.push(event);
  }

  /** Recording starts (or resumes) here, from this state: a `start` event, no election noise. */
  begin(state: ObservedState, reason: string): void {
    this.last = state;
    this.record({ kind: 'start', reason: `${reason}: ${describeState(state)}` });
  }

  end(reason: string): void {
    this.record({ kind: 'stop', reason });
  }

  /** Records what changed since the last look: a new role, term or leader; a higher commit. */
  observe(state: ObservedState): void {
    const last = this.last;
    this.last = state;
    if (
      last === null ||
      state.role !== last.role ||
      state.term !== last.term ||
      state.leaderId !== last.leaderId
    ) {
      const { role, term, leaderId } = state;
      this.record({ kind: 'role', role, term, leaderId });
    }
    if (last === null || state.commit > last.commit)
      this.record({ kind: 'commit', index: state.commit });
  }

  /** Stamps every traced message of a batch with its own send event's clock. */
  stamp(messages: readonly Message[]): readonly Message[] {
    let stamped: Message[] | null = null;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      if (!this.traces(message)) {
        stamped?.push(message);
        continue;
      }
      stamped ??= messages.slice(0, i);
      const { type, to, term } = message;
      const event = this.record({ kind: 'send', type, to, term, detail: describeMessage(message) });
      stamped.push(withClock(message, event.clock));
    }
    return stamped ?? messages;
  }

  /** Merges the clock `message` carries (if any), then records its receipt. */
  received(message: Message): void {
    if (!this.traces(message)) return;
    const remote = clockOf(message);
    if (remote !== undefined) this.merge(remote);
    const { type, from, term } = message;
    const sentAt = remote?.[from] ?? null;
    this.record({ kind: 'receive', type, from, term, detail: describeMessage(message), sentAt });
  }

  record(body: TimelineEventBody): TimelineEvent {
    const own = this.clock.get(this.self)! + 1;
    this.clock.set(this.self, own);
    // No prototype: a peer's id such as "__proto__" stays a plain key. A loop, not
    // Object.fromEntries: five times faster, and this runs for every message while recording.
    const clock = Object.create(null) as Record<MemberId, number>;
    for (const [id, count] of this.clock) clock[id] = count;
    // Body last, as withClock: a spread then more fields is the slow path.
    const event = { member: this.self, timeMs: this.wallClock(), clock, ...body } as TimelineEvent;
    this.push(event);
    return event;
  }

  /** The events in the ring, oldest first. */
  events(): TimelineEvent[] {
    const capacity = this.ring.length;
    const start = (this.next - this.size + capacity) % capacity;
    const out: TimelineEvent[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % capacity]!);
    return out;
  }

  /** Empties the ring; the clock goes on counting, so later events still order after earlier. */
  clear(): void {
    this.ring.fill(undefined);
    this.next = 0;
    this.size = 0;
  }

  stats(recording: boolean): TimelineStats {
    return {
      recording,
      events: this.size,
      overwritten: this.overwritten,
      clockEntriesRefused: this.clockEntriesRefused,
    };
  }

  private traces(message: Message): boolean {
    return (
      this.heartbeats || (message.type !== 'heartbeat' && message.type !== 'heartbeatResponse')
    );
  }

  /**
   * Its own entry is never taken from a peer: no peer knows more of this member's events than it
   * does, and a hostile one could otherwise push its count to the end of the safe integers.
   */
  private merge(remote: VectorClock): void {
    for (const id of Object.keys(remote)) {
      if (id === this.self) continue;
      const count = remote[id]!;
      const mine = this.clock.get(id);
      if (mine !== undefined) {
        if (count > mine) this.clock.set(id, count);
      } else if (this.clock.size < CLOCK_ENTRIES_MAX) {
        this.clock.set(id, count);
      } else {
        this.clockEntriesRefused++;
      }
    }
  }

  private push(event: TimelineEvent): void {
    const capacity = this.ring.length;
    if (this.size === capacity) this.overwritten++;
    else this.size++;
    this.ring[this.next] = event;
    this.next = (this.next + 1) % capacity;
    assert(this.size <= capacity, 'timeline ring overfilled');
  }
}

function checkedEventsMax(options: TimelineOptions): number {
  const eventsMax = options.eventsMax ?? TIMELINE_EVENTS_DEFAULT;
  if (
    !Number.isSafeInteger(eventsMax) ||
    eventsMax < TIMELINE_EVENTS_MIN ||
    eventsMax > TIMELINE_EVENTS_MAX
  )
    throw new RangeError(
      `timeline eventsMax must be an integer from ${TIMELINE_EVENTS_MIN} to ${TIMELINE_EVENTS_MAX}`,
    );
  return eventsMax;
}

function describeState({ role, term, commit }: ObservedState): string {
  return `${role}, term ${term}, commit ${commit}`;
}

/** A message's payload in a few words (no braces: ShiViz's parser would take them for a clock). */
export function describeMessage(message: Message): string {
  switch (message.type) {
    case 'preVote':
    case 'vote':
      return `last ${message.lastIndex}/${message.lastTerm}${message.type === 'vote' && message.transfer ? ', transfer' : ''}`;
    case 'preVoteResponse':
    case 'voteResponse':
      return message.reject ? 'rejected' : 'granted';
    case 'append': {
      const { prevIndex, entries, commit } = message;
      return entries.length === 0
        ? `probe ${prevIndex}, commit ${commit}`
        : `entries ${prevIndex + 1}-${prevIndex + entries.length}, commit ${commit}`;
    }
    case 'appendResponse':
      return message.reject ? `rejected at ${message.index}` : `match ${message.index}`;
    case 'heartbeat':
      return `commit ${message.commit}`;
    case 'readIndexResponse':
      return message.reject ? 'rejected' : `index ${message.index}`;
    case 'snapshot':
      return `snapshot ${message.meta.index}, bytes ${message.offset}+${message.data.length} of ${message.size}`;
    case 'snapshotResponse':
      return `snapshot ${message.index}, offset ${message.offset}`;
    case 'forward':
      return `${message.data.length} bytes`;
    case 'heartbeatResponse':
    case 'timeoutNow':
    case 'readIndex':
      return '';
  }
}
