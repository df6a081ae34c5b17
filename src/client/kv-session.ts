/**
 * A client session on the replicated KV (DESIGN.md decision 8): it opens a session in the log,
 * numbers every command, and retries a command with the same number after a failover, so the
 * state machine applies it exactly once. Transport-agnostic: it is handed a `submit` function
 * that gets a command to the current leader (in-process, over a worker port, ...).
 */
import { OverloadedError, RaftError } from '../core/errors.js';
import { kvCommand } from '../state/kv-commands.js';
import { SESSION_DEFAULTS } from '../state/sessions.js';
import type {
  JsonValue,
  KvCasResult,
  KvDeleteResult,
  KvErrorCode,
  KvOpResult,
  KvPutResult,
  KvResult,
  KvTxnCheck,
  KvTxnResult,
  KvTxnWrite,
} from '../state/kv-types.js';
import type { SessionHeader } from '../state/sessions.js';

/** The state machine refused a command (its `code` says why); nothing was applied. */
export class KvCommandError extends RaftError {
  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KvCommandError';
  }
}

/** Errors after which the same command may be sent again: the session makes the retry safe. */
const RETRYABLE_CODES = new Set([
  'NOT_LEADER',
  'TIMEOUT',
  'LEADER_CHANGED',
  'MEMBER_STOPPED',
  'PROPOSAL_DROPPED',
  'LEADERSHIP_TRANSFER',
  'OVERLOADED',
]);

export function isRetryable(error: unknown): boolean {
  return error instanceof RaftError && RETRYABLE_CODES.has(error.code);
}

/**
 * Retryable errors that mean the leader went or changed: the next attempt can go as soon as a
 * leader is known again. (Not a transfer under way: that leader is known and refuses until the
 * transfer ends, so retrying at once would only spin.)
 */
const LEADER_GONE_CODES = new Set(['NOT_LEADER', 'LEADER_CHANGED', 'PROPOSAL_DROPPED']);

export interface KvSessionOptions {
  /** Gets `command` applied by the cluster; resolves with the state machine's result. */
  readonly submit: (command: Uint8Array) => Promise<KvResult>;
  /** Waits between retries (a timer in production, virtual time in the simulator). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Attempts per command before giving up with the last error (outcome unknown). Default 20. */
  readonly attemptsMax?: number;
  /** Pause between attempts. Default 50 ms. */
  readonly retryDelayMs?: number;
  /**
   * After an attempt failed because the leader went or changed: resolves once a leader is known
   * (at once if one is), or after `maxMs` (`retryDelayMs`) at the latest. Default `sleep`. The
   * first write after a failover then waits for the new leader, not for the full delay.
   */
  readonly leaderKnown?: (maxMs: number) => Promise<void>;
  /**
   * Most commands in flight, counted as the span from the lowest unanswered seq to the next. It
   * must not exceed the state machine's `responsesPerSessionMax` (the default matches it): a
   * wider span would let the cluster forget a response (or refuse a seq as discarded) that this
   * client still waits for. Commands beyond it wait for a slot. Default 256.
   */
  readonly windowMax?: number;
  /**
   * Most commands waiting for a slot in the window; one more is refused at once with
   * OverloadedError (back off), so a caller that floods cannot grow the queue without bound.
   * Default 16,384.
   */
  readonly waitingMax?: number;
}

const WAITING_MAX_DEFAULT = 16_384;

export class KvSession {
  private seqNext = 1;
  /** Seqs sent and not yet answered, in ascending order (they are added in that order). */
  private readonly unacked = new Set<number>();
  /** Commands waiting for the window to move; each is handed its seq. */
  private readonly waiting: ((seq: number) => void)[] = [];

  private constructor(
    private readonly options: KvSessionOptions,
    /** The session id: the log index of its registration. */
    readonly id: number,
  ) {}

  /** Registers a new session in the log. */
  static async open(options: KvSessionOptions): Promise<KvSession> {
    const result = await retrying(options, () => options.submit(kvCommand.registerSession()));
    if (result.type !== 'registerSession') throw unexpected(result);
    return new KvSession(options, result.session);
  }

  put(key: string, value: JsonValue): Promise<KvPutResult> {
    return this.run((header) => kvCommand.put(header, key, value), 'put');
  }

  delete(key: string): Promise<KvDeleteResult> {
    return this.run((header) => kvCommand.delete(header, key), 'delete');
  }

  /** Sets `key` to `next` if its value equals `expected` (`null`: if absent); see `ok`. */
  cas(key: string, expected: JsonValue | null, next: JsonValue): Promise<KvCasResult> {
    return this.run((header) => kvCommand.cas(header, key, expected, next), 'cas');
  }

  /** Applies every write if every check holds (version 0 = absent), else none; see `ok`. */
  txn(checks: readonly KvTxnCheck[], writes: readonly KvTxnWrite[]): Promise<KvTxnResult> {
    return this.run((header) => kvCommand.txn(header, checks, writes), 'txn');
  }

  /** Commands in flight or waiting for a slot. */
  get load(): number {
    return this.unacked.size + this.waiting.length;
  }

  /** Whether a command now would leave at once rather than wait for the window. */
  get hasRoom(): boolean {
    return this.waiting.length === 0 && this.seqNext - this.lowestUnacked() < this.windowMax;
  }

  private get windowMax(): number {
    return this.options.windowMax ?? SESSION_DEFAULTS.responsesPerSessionMax;
  }

  private async run<T extends KvOpResult['type']>(
    build: (header: SessionHeader) => Uint8Array,
    type: T,
  ): Promise<Extract<KvOpResult, { type: T }>> {
    if (!this.hasRoom && this.waiting.length >= (this.options.waitingMax ?? WAITING_MAX_DEFAULT)) {
      throw new OverloadedError('client commands waiting', this.waiting.length);
    }
    const seq = this.hasRoom
      ? this.takeSeq()
      : await new Promise<number>((resolve) => this.waiting.push(resolve));
    try {
      // One command, one seq, however many attempts: that is what makes retries exactly-once.
      const result = await retrying(this.options, () =>
        this.options.submit(build({ session: this.id, seq, lowestUnacked: this.lowestUnacked() })),
      );
      if (result.type === 'error') throw new KvCommandError(result.code, result.message);
      if (result.type !== type) throw unexpected(result);
      return result as Extract<KvOpResult, { type: T }>;
    } finally {
      // Answered or given up on: either way this client will never send seq again.
      this.unacked.delete(seq);
      this.admitWaiting();
    }
  }

  /** Lets waiting commands go while the window has room (in the order they came). */
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.seqNext - this.lowestUnacked() < this.windowMax) {
      this.waiting.shift()!(this.takeSeq());
    }
  }

  private takeSeq(): number {
    const seq = this.seqNext++;
    this.unacked.add(seq);
    return seq;
  }

  private lowestUnacked(): number {
    const lowest = this.unacked.values().next();
    return lowest.done === true ? this.seqNext : lowest.value;
  }
}

/**
 * Sessions enough for any number of commands in flight: a command goes to a session with room
 * in its window, and a new session opens when none has (up to `sessionsMax`; beyond that,
 * commands queue in the least loaded session). One session bounds what is in flight to its
 * window, so a client with thousands of concurrent writes needs several.
 */
export class KvSessionPool {
  private readonly sessions: KvSession[] = [];
  private opening: Promise<KvSession> | null = null;

  constructor(
    private readonly options: KvSessionOptions & {
      /** Most sessions this pool opens. Default 16. */
      readonly sessionsMax?: number;
    },
  ) {}

  put(key: string, value: JsonValue): Promise<KvPutResult> {
    return this.with((session) => session.put(key, value));
  }

  delete(key: string): Promise<KvDeleteResult> {
    return this.with((session) => session.delete(key));
  }

  cas(key: string, expected: JsonValue | null, next: JsonValue): Promise<KvCasResult> {
    return this.with((session) => session.cas(key, expected, next));
  }

  txn(checks: readonly KvTxnCheck[], writes: readonly KvTxnWrite[]): Promise<KvTxnResult> {
    return this.with((session) => session.txn(checks, writes));
  }

  private async with<T>(operation: (session: KvSession) => Promise<T>): Promise<T> {
    for (;;) {
      const roomy = this.sessions.find((session) => session.hasRoom);
      if (roomy !== undefined) return operation(roomy);
      if (this.sessions.length >= (this.options.sessionsMax ?? 16)) {
        return operation(leastLoaded(this.sessions));
      }
      await this.open(); // Then look again: the writes that waited for it may have filled it.
    }
  }

  /** One opening at a time: commands that find every session full wait for the same new one. */
  private open(): Promise<KvSession> {
    this.opening ??= KvSession.open(this.options).then(
      (session) => {
        this.opening = null;
        this.sessions.push(session);
        return session;
      },
      (error: unknown) => {
        this.opening = null; // No leader in time, say: the next command tries again.
        throw error;
      },
    );
    return this.opening;
  }
}

function leastLoaded(sessions: readonly KvSession[]): KvSession {
  return sessions.reduce((best, session) => (session.load < best.load ? session : best));
}

async function retrying<R>(options: KvSessionOptions, attempt: () => Promise<R>): Promise<R> {
  const attemptsMax = options.attemptsMax ?? 20;
  let lastError: unknown = null;
  for (let i = 0; i < attemptsMax; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      lastError = error;
      const delayMs = options.retryDelayMs ?? 50;
      const leaderGone = error instanceof RaftError && LEADER_GONE_CODES.has(error.code);
      await (leaderGone && options.leaderKnown
        ? options.leaderKnown(delayMs)
        : options.sleep(delayMs));
    }
  }
  throw lastError;
}

function unexpected(result: KvResult): Error {
  return new KvCommandError('BAD_COMMAND', `unexpected result type ${result.type}`);
}
