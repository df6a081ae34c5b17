/**
 * What a member's message timeline records: plain data, so it crosses comlink and
 * BroadcastChannel as it is, and several members' events merge into one ShiViz log.
 */
import type { MessageType } from '../../core/messages.js';
import type { MemberId, Role } from '../../core/types.js';
import type { VectorClock } from '../../transport/vector-clock.js';

export type { VectorClock } from '../../transport/vector-clock.js';

interface EventBase {
  /** The member that recorded the event; `clock[member]` is the event's own count. */
  readonly member: MemberId;
  /** Wall-clock time, for display only: members' clocks disagree, vector clocks do not. */
  readonly timeMs: number;
  readonly clock: VectorClock;
}

export interface SendEvent extends EventBase {
  readonly kind: 'send';
  readonly type: MessageType;
  readonly to: MemberId;
  readonly term: number;
  /** What the message carries, short ("entries 4-6, commit 3"); never contains braces. */
  readonly detail: string;
}

export interface ReceiveEvent extends EventBase {
  readonly kind: 'receive';
  readonly type: MessageType;
  readonly from: MemberId;
  readonly term: number;
  readonly detail: string;
  /**
   * The sender's own count in the clock the message carried: the send event is the one of member
   * `from` with `clock[from] === sentAt`. Null when the message carried no clock (its sender
   * was not recording, or sent a clock that was not sound).
   */
  readonly sentAt: number | null;
}

export interface RoleEvent extends EventBase {
  readonly kind: 'role';
  readonly role: Role;
  readonly term: number;
  readonly leaderId: MemberId | null;
}

export interface CommitEvent extends EventBase {
  readonly kind: 'commit';
  readonly index: number;
}

export interface SnapshotEvent extends EventBase {
  readonly kind: 'snapshot';
  /** `taken`: compacted its own log; `installed`: received from the leader. */
  readonly action: 'taken' | 'installed';
  readonly index: number;
}

export interface MembershipEvent extends EventBase {
  readonly kind: 'membership';
  /** The configuration entry's index, applied here. */
  readonly index: number;
  readonly voters: readonly MemberId[];
  readonly learners: readonly MemberId[];
}

export interface LifecycleEvent extends EventBase {
  /** `start`: recording began (or the member started while recording); `stop`: either ended. */
  readonly kind: 'start' | 'stop';
  readonly reason: string;
}

export type TimelineEvent =
  | SendEvent
  | ReceiveEvent
  | RoleEvent
  | CommitEvent
  | SnapshotEvent
  | MembershipEvent
  | LifecycleEvent;

/** An event as the recorder is told of it, before it is stamped with member, time and clock. */
export type TimelineEventBody = WithoutBase<TimelineEvent>;
/** Distributes over the union, so each kind keeps its own fields. */
type WithoutBase<E> = E extends TimelineEvent ? Omit<E, keyof EventBase> : never;

/** How a member records (see `Member.timeline`). */
export interface TimelineOptions {
  /** Events kept: the oldest are overwritten beyond it. Default 2,000; 16 to 100,000. */
  readonly eventsMax?: number;
  /**
   * Record heartbeats and their answers too. Default false: a leader sends them every few ticks
   * to every member, and they would push elections and commits out of the ring. Skipped ones
   * carry no clock and leave no event on either side.
   */
  readonly heartbeats?: boolean;
}

/** What a recorder counted beside its events. */
export interface TimelineStats {
  readonly recording: boolean;
  /** Events in the ring now. */
  readonly events: number;
  /** Events the ring overwrote, oldest first, to stay within `eventsMax`. */
  readonly overwritten: number;
  /** Clock entries of peers not merged because this clock already had CLOCK_ENTRIES_MAX. */
  readonly clockEntriesRefused: number;
}

/**
 * A member's timeline, on and off at run time (`member.timeline`, `cluster.timeline`). Off by
 * default; stopping keeps the events to read and export.
 */
export interface MemberTimeline {
  readonly recording: boolean;
  /** Starts recording (or takes new options while recording). */
  start(options?: TimelineOptions): void;
  stop(): void;
  /** The events recorded, oldest first, at most `eventsMax`. */
  events(): TimelineEvent[];
  /** Forgets the events recorded so far (the vector clock keeps counting). */
  clear(): void;
  stats(): TimelineStats;
  /** The events as a log ShiViz loads (see shiviz.ts). */
  exportShiViz(): string;
}
