/**
 * A client session on the replicated KV (DESIGN.md decision 8): it opens a session in the log,
 * numbers every command, and retries a command with the same number after a failover, so the
 * state machine applies it exactly once. Transport-agnostic: it is handed a `submit` function
 * that gets a command to the current leader (in-process, over a worker port, ...).
 */
import { RaftError } from '../core/errors.js';
import { kvCommand } from '../state/kv-commands.js';
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

export interface KvSessionOptions {
  /** Gets `command` applied by the cluster; resolves with the state machine's result. */
  readonly submit: (command: Uint8Array) => Promise<KvResult>;
  /** Waits between retries (a timer in production, virtual time in the simulator). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Attempts per command before giving up with the last error (outcome unknown). Default 20. */
  readonly attemptsMax?: number;
  /** Pause between attempts. Default 50 ms. */
  readonly retryDelayMs?: number;
}

export class KvSession {
  private seqNext = 1;
  private readonly unacked = new Set<number>();

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

  private async run<T extends KvOpResult['type']>(
    build: (header: SessionHeader) => Uint8Array,
    type: T,
  ): Promise<Extract<KvOpResult, { type: T }>> {
    const seq = this.seqNext++;
    this.unacked.add(seq);
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
    }
  }

  private lowestUnacked(): number {
    let lowest = this.seqNext;
    for (const seq of this.unacked) lowest = Math.min(lowest, seq);
    return lowest;
  }
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
      await options.sleep(options.retryDelayMs ?? 50);
    }
  }
  throw lastError;
}

function unexpected(result: KvResult): Error {
  return new KvCommandError('BAD_COMMAND', `unexpected result type ${result.type}`);
}
