/**
 * Client sessions for exactly-once commands (Raft thesis §6.3, as in LogCabin), generic over the
 * response type so any state machine can use them.
 *
 * - A session is opened by a command in the log; its id is that entry's log index.
 * - Every command of a session carries `seq` (1, 2, 3, ...) and `lowestUnacked`, the smallest seq
 *   whose response the client has not received yet. The table keeps the responses of applied seqs
 *   at or above that mark, so a retried seq gets its first response back instead of being applied
 *   twice, and several commands of one session may be outstanding at once.
 * - Everything is bounded: responses per session (the lowest seq is forgotten first), sessions
 *   (the least recently active is evicted first), and idle time, measured in log time: the
 *   monotonic max of the leader timestamps of applied entries, never a local clock, so every
 *   member expires the same sessions at the same entry.
 */
import { assert } from '../core/errors.js';

/** What each session command carries besides its operation. */
export interface SessionHeader {
  /** The session id: log index of the command that opened it. */
  readonly session: number;
  /** This command's sequence number within the session, from 1. */
  readonly seq: number;
  /** The smallest seq whose response the client has not received; at most `seq`. */
  readonly lowestUnacked: number;
}

export interface SessionOptions {
  /** A session idle for longer than this (in log time) is removed. Default 24 hours. */
  readonly sessionTtlMs?: number;
  /** Most sessions kept; opening one more evicts the least recently active. Default 10,000. */
  readonly sessionsMax?: number;
  /** Most responses cached per session; beyond it the lowest seq is forgotten. Default 256. */
  readonly responsesPerSessionMax?: number;
}

export const SESSION_DEFAULTS: Required<SessionOptions> = Object.freeze({
  sessionTtlMs: 24 * 60 * 60 * 1000,
  sessionsMax: 10_000,
  responsesPerSessionMax: 256,
});

export type SessionRejectionCode = 'SESSION_EXPIRED' | 'SEQ_DISCARDED';

/** What to do with a session command: apply it, answer from the cache, or refuse it. */
export type SessionAdmission<Response> =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'duplicate'; readonly response: Response }
  | { readonly kind: 'rejected'; readonly code: SessionRejectionCode; readonly message: string };

/** One session as plain data, for digests and snapshots. */
export interface SessionSnapshot<Response> {
  readonly id: number;
  readonly lastActiveMs: number;
  /** Responses below this seq are forgotten; a command below it gets `SEQ_DISCARDED`. */
  readonly discardedBelowSeq: number;
  /** Cached responses, by ascending seq. */
  readonly responses: readonly (readonly [seq: number, response: Response])[];
}

/**
 * A session table's whole state as plain data, for state machine snapshots. Unlike `snapshot()`
 * (canonical, by id) it keeps the order of last activity, which decides eviction.
 */
export interface SessionTableState<Response> {
  readonly logTimeMs: number;
  /** The largest session id ever opened (closed sessions included): ids only grow. */
  readonly lastOpenedId: number;
  /** Open sessions in order of last activity, least recent first. */
  readonly sessions: readonly SessionSnapshot<Response>[];
}

interface Session<Response> {
  readonly id: number;
  lastActiveMs: number;
  discardedBelowSeq: number;
  readonly responses: Map<number, Response>;
}

/** The sessions of one state machine. Call it only from `apply`, in log order. */
export class SessionTable<Response> {
  /** The bounds in force, defaults filled in. */
  readonly limits: Readonly<Required<SessionOptions>>;
  /** In order of last activity, least recent first (a touched session is re-inserted last). */
  private readonly sessions = new Map<number, Session<Response>>();
  private logTime = 0;
  private lastOpenedId = 0;
  /** The header admitted as fresh and not yet remembered (pairs `admit` with `remember`). */
  private admitted: SessionHeader | null = null;

  constructor(options: SessionOptions = {}) {
    this.limits = Object.freeze({ ...SESSION_DEFAULTS, ...withoutUndefined(options) });
    const { sessionTtlMs, sessionsMax, responsesPerSessionMax } = this.limits;
    assert(sessionTtlMs >= 0 && Number.isFinite(sessionTtlMs), 'sessionTtlMs is finite and >= 0');
    assert(Number.isInteger(sessionsMax) && sessionsMax >= 1, 'sessionsMax is an integer >= 1');
    assert(
      Number.isInteger(responsesPerSessionMax) && responsesPerSessionMax >= 1,
      'responsesPerSessionMax is an integer >= 1',
    );
  }

  /** Log time in ms: the largest entry timestamp seen so far. */
  get logTimeMs(): number {
    return this.logTime;
  }

  /** How many sessions are open. */
  get size(): number {
    return this.sessions.size;
  }

  /** True if session `id` is open. */
  has(id: number): boolean {
    return this.sessions.has(id);
  }

  /**
   * Moves log time to `max(logTime, timeMs)` and removes sessions idle for longer than the TTL.
   * Call it once per applied entry, before anything else. A timestamp that is not finite is
   * ignored (the same on every member), and an earlier one never moves log time back.
   */
  advanceLogTime(timeMs: number): void {
    assert(this.admitted === null, 'a fresh command was admitted but its response not remembered');
    if (Number.isFinite(timeMs) && timeMs > this.logTime) this.logTime = timeMs;
    for (const session of this.sessions.values()) {
      if (this.logTime - session.lastActiveMs <= this.limits.sessionTtlMs) break;
      this.sessions.delete(session.id);
    }
  }

  /** Opens session `id` (the log index of the command that opens it), evicting the least active if full. */
  open(id: number): void {
    assert(Number.isSafeInteger(id) && id > this.lastOpenedId, 'session ids strictly increase');
    assert(!this.sessions.has(id), () => `session ${id} is already open`);
    if (this.sessions.size >= this.limits.sessionsMax) {
      const leastActive = this.sessions.keys().next();
      assert(leastActive.done !== true, 'a full table has a least active session');
      this.sessions.delete(leastActive.value);
    }
    this.sessions.set(id, {
      id,
      lastActiveMs: this.logTime,
      discardedBelowSeq: 1,
      responses: new Map(),
    });
    this.lastOpenedId = id;
    assert(this.sessions.size <= this.limits.sessionsMax, 'sessions stay within sessionsMax');
  }

  /** Marks session `id` active now; false if it is not open. */
  keepAlive(id: number): boolean {
    const session = this.sessions.get(id);
    if (session === undefined) return false;
    this.touch(session);
    return true;
  }

  /** Closes session `id` and forgets its responses; false if it was not open. */
  close(id: number): boolean {
    return this.sessions.delete(id);
  }

  /**
   * Decides what to do with a session command: `fresh` (apply it, then call `remember`),
   * `duplicate` (return the cached response; do not apply) or `rejected`. Marks the session active
   * and forgets the responses the client acknowledged with `lowestUnacked`.
   */
  admit(header: SessionHeader): SessionAdmission<Response> {
    assert(this.admitted === null, 'admit follows remember');
    assert(
      header.lowestUnacked >= 1 && header.lowestUnacked <= header.seq,
      'lowestUnacked in [1, seq]',
    );
    const session = this.sessions.get(header.session);
    if (session === undefined) {
      const message = `session ${header.session} is unknown or expired; register a new session`;
      return { kind: 'rejected', code: 'SESSION_EXPIRED', message };
    }
    this.touch(session);
    this.forgetBelow(session, header.lowestUnacked);
    const cached = session.responses.get(header.seq);
    if (cached !== undefined) return { kind: 'duplicate', response: cached };
    if (header.seq < session.discardedBelowSeq) {
      const message = `the response to seq ${header.seq} of session ${header.session} was discarded`;
      return { kind: 'rejected', code: 'SEQ_DISCARDED', message };
    }
    this.admitted = header;
    return { kind: 'fresh' };
  }

  /** Caches the response of the command `admit` just called fresh. */
  remember(header: SessionHeader, response: Response): void {
    assert(this.admitted === header, 'remember the header admit called fresh, once');
    this.admitted = null;
    const session = this.sessions.get(header.session);
    assert(session !== undefined, 'an admitted session stays open until remembered');
    assert(!session.responses.has(header.seq), 'a seq is applied at most once');
    session.responses.set(header.seq, response);
    while (session.responses.size > this.limits.responsesPerSessionMax) {
      const lowestSeq = Math.min(...session.responses.keys());
      this.forgetBelow(session, lowestSeq + 1);
    }
  }

  /** All sessions as plain data, by ascending id (canonical: equal tables give equal snapshots). */
  snapshot(): SessionSnapshot<Response>[] {
    return [...this.sessions.values()].sort((a, b) => a.id - b.id).map(toSnapshot);
  }

  /** The whole table as plain data, sessions in order of last activity (see SessionTableState). */
  exportState(): SessionTableState<Response> {
    assert(this.admitted === null, 'export between entries, not inside an apply');
    const sessions = [...this.sessions.values()].map(toSnapshot);
    return { logTimeMs: this.logTime, lastOpenedId: this.lastOpenedId, sessions };
  }

  /**
   * A table with `options` holding `state`, which must pass `findSessionTableStateViolation` (a
   * snapshot decoder checks it first and reports a typed error; here it is an invariant).
   */
  static fromState<Response>(
    options: SessionOptions,
    state: SessionTableState<Response>,
  ): SessionTable<Response> {
    const table = new SessionTable<Response>(options);
    const violation = findSessionTableStateViolation(state, table.limits);
    assert(violation === null, () => `restored session table: ${violation}`);
    table.logTime = state.logTimeMs;
    table.lastOpenedId = state.lastOpenedId;
    for (const session of state.sessions) {
      table.sessions.set(session.id, {
        id: session.id,
        lastActiveMs: session.lastActiveMs,
        discardedBelowSeq: session.discardedBelowSeq,
        responses: new Map(session.responses),
      });
    }
    assert(table.sessions.size === state.sessions.length, 'every restored session is kept');
    return table;
  }

  private touch(session: Session<Response>): void {
    assert(this.logTime >= session.lastActiveMs, 'log time never goes back');
    session.lastActiveMs = this.logTime;
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
  }

  private forgetBelow(session: Session<Response>, seq: number): void {
    if (seq <= session.discardedBelowSeq) return;
    session.discardedBelowSeq = seq;
    for (const cachedSeq of session.responses.keys()) {
      if (cachedSeq < seq) session.responses.delete(cachedSeq);
    }
  }
}

/**
 * Returns why `state` cannot be the state of a table with `limits`, or null if it can: log time
 * finite and >= 0; ids unique, in [1, lastOpenedId]; sessions in order of last activity, none
 * active after log time, at most `sessionsMax`; per session, cached seqs ascending, at or above
 * the discard mark, at most `responsesPerSessionMax`.
 */
export function findSessionTableStateViolation(
  state: SessionTableState<unknown>,
  limits: Readonly<Required<SessionOptions>>,
): string | null {
  const { logTimeMs, lastOpenedId, sessions } = state;
  if (!Number.isFinite(logTimeMs) || logTimeMs < 0) return `log time ${logTimeMs} is not >= 0`;
  if (!Number.isSafeInteger(lastOpenedId) || lastOpenedId < 0) {
    return `last opened id ${lastOpenedId} is not a safe integer >= 0`;
  }
  if (sessions.length > limits.sessionsMax) {
    return `${sessions.length} sessions are over the limit of ${limits.sessionsMax}`;
  }
  const ids = new Set<number>();
  let previousActiveMs = 0;
  for (const session of sessions) {
    const { id, lastActiveMs } = session;
    if (!Number.isSafeInteger(id) || id < 1 || id > lastOpenedId || ids.has(id)) {
      return `session id ${id} is not unique in [1, ${lastOpenedId}]`;
    }
    ids.add(id);
    if (!Number.isFinite(lastActiveMs) || lastActiveMs < previousActiveMs) {
      return `session ${id} is out of activity order`;
    }
    if (lastActiveMs > logTimeMs) return `session ${id} was active after log time`;
    previousActiveMs = lastActiveMs;
    const violation = findSessionViolation(session, limits.responsesPerSessionMax);
    if (violation !== null) return violation;
  }
  return null;
}

function findSessionViolation(
  session: SessionSnapshot<unknown>,
  responsesMax: number,
): string | null {
  const { id, discardedBelowSeq, responses } = session;
  if (!Number.isSafeInteger(discardedBelowSeq) || discardedBelowSeq < 1) {
    return `session ${id} has discard mark ${discardedBelowSeq}, not a safe integer >= 1`;
  }
  if (responses.length > responsesMax) {
    return `session ${id} caches ${responses.length} responses, over the limit of ${responsesMax}`;
  }
  let previousSeq = discardedBelowSeq - 1;
  for (const [seq] of responses) {
    if (!Number.isSafeInteger(seq) || seq <= previousSeq) {
      return `session ${id} caches seq ${seq} out of order or below its discard mark`;
    }
    previousSeq = seq;
  }
  return null;
}

function toSnapshot<Response>(session: Session<Response>): SessionSnapshot<Response> {
  return {
    id: session.id,
    lastActiveMs: session.lastActiveMs,
    discardedBelowSeq: session.discardedBelowSeq,
    responses: [...session.responses.entries()].sort(([a], [b]) => a - b),
  };
}

/** Drops `undefined` options so they do not override defaults when spread. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
