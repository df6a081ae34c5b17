/**
 * The replicated key-value state machine: versioned JSON values under string keys, with
 * compare-and-set and all-or-nothing transactions, exactly-once client sessions (DESIGN.md
 * decision 8), change events, snapshots of the whole state (for log compaction and for members
 * that fall behind), and a canonical digest so the simulator can check that members applied to
 * identical state. It reads no clock: time is the log time of applied entries.
 */
import { assert, OverloadedError } from '../core/errors.js';
import { hashText } from './digest.js';
import { canonicalJson } from './json.js';
import { decodeKvCommand } from './kv-codec.js';
import type { KvDecodeResult } from './kv-codec.js';
import { executeOp, kvError } from './kv-execute.js';
import type { OpOutcome } from './kv-execute.js';
import { KV_LIMITS } from './kv-limits.js';
import { decodeKvSnapshot, encodeKvSnapshot } from './kv-snapshot.js';
import type { KvSnapshotLimits } from './kv-snapshot.js';
import { diffStores, KvStore } from './kv-store.js';
import type {
  KvChange,
  KvChangeListener,
  KvGetQuery,
  KvGetResult,
  KvOpCommand,
  KvOpResult,
  KvQuery,
  KvQueryResult,
  KvRangeQuery,
  KvRangeResult,
  KvResult,
} from './kv-types.js';
import { SessionTable } from './sessions.js';
import type { SessionOptions } from './sessions.js';
import type { ApplyContext, StateMachine } from './state-machine.js';

export interface KvStateMachineOptions extends SessionOptions {
  /** Most keys stored; a command that would add more gets `TOO_MANY_KEYS`. Default 100,000. */
  readonly keysMax?: number;
  /** Most change listeners at once; `subscribe` beyond it throws OverloadedError. Default 1,000. */
  readonly listenersMax?: number;
  /** Told about an error a change listener threw (apply carries on regardless). Default: ignore. */
  readonly onListenerError?: (error: unknown) => void;
}

export const KV_DEFAULTS = Object.freeze({ keysMax: 100_000, listenersMax: 1_000 });

/** The outcome of one applied command: what to return and which keys changed. */
interface CommandOutcome {
  readonly result: KvResult;
  readonly changes: readonly KvChange[];
}

/** A listener as subscribed; one object per `subscribe` call, so each unsubscribes only itself. */
interface Subscription {
  readonly listener: KvChangeListener;
}

export class KvStateMachine implements StateMachine<KvResult, KvQuery, KvQueryResult> {
  // Replaced whole by `restore`, so that a bad snapshot leaves them untouched.
  private store = new KvStore();
  private sessions: SessionTable<KvOpResult>;
  private readonly sessionOptions: SessionOptions;
  private readonly subscriptions = new Set<Subscription>();
  private readonly keysMax: number;
  private readonly listenersMax: number;
  private readonly onListenerError: (error: unknown) => void;
  private applied = 0;

  constructor(options: KvStateMachineOptions = {}) {
    this.sessionOptions = {
      sessionTtlMs: options.sessionTtlMs,
      sessionsMax: options.sessionsMax,
      responsesPerSessionMax: options.responsesPerSessionMax,
    };
    this.sessions = new SessionTable<KvOpResult>(this.sessionOptions);
    this.keysMax = options.keysMax ?? KV_DEFAULTS.keysMax;
    this.listenersMax = options.listenersMax ?? KV_DEFAULTS.listenersMax;
    this.onListenerError = options.onListenerError ?? (() => {});
    assert(Number.isInteger(this.keysMax) && this.keysMax >= 0, 'keysMax is an integer >= 0');
    assert(
      Number.isInteger(this.listenersMax) && this.listenersMax >= 0,
      'listenersMax is an integer >= 0',
    );
  }

  /** The index of the last applied entry (command or no-op). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Log time in ms: the largest leader timestamp among applied entries. */
  get logTimeMs(): number {
    return this.sessions.logTimeMs;
  }

  /** Number of keys stored. */
  get keyCount(): number {
    return this.store.size;
  }

  /** Number of open client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** True if client session `id` is open (not expired, evicted or closed). */
  hasSession(id: number): boolean {
    return this.sessions.has(id);
  }

  /**
   * Applies the committed command at `context.index` (which must be `appliedIndex + 1`). Never
   * throws for bad bytes: they yield a `BAD_COMMAND` error result. Listeners hear of the changes
   * after the state (and `appliedIndex`) is updated.
   */
  apply(command: Uint8Array, context: ApplyContext): KvResult {
    this.beginEntry(context);
    const outcome = this.applyDecoded(decodeKvCommand(command), context.index);
    this.applied = context.index;
    this.notify(outcome.changes);
    return outcome.result;
  }

  /** Records a no-op entry: it advances the applied index and log time (which may expire sessions). */
  applyNoop(context: ApplyContext): void {
    this.beginEntry(context);
    this.applied = context.index;
  }

  /** Answers a query on the applied state. */
  query(query: KvGetQuery): KvGetResult;
  query(query: KvRangeQuery): KvRangeResult;
  query(query: KvQuery): KvQueryResult;
  query(query: KvQuery): KvQueryResult {
    switch (query.type) {
      case 'get':
        return this.get(query.key);
      case 'range':
        return this.range(query);
    }
  }

  /** The entry of `key` (value, version, modIndex), or null if absent. */
  get(key: string): KvGetResult {
    return this.store.get(key);
  }

  /**
   * Entries in key order under `prefix` (default all) and above `after`, at most `limit` (default
   * and maximum `KV_LIMITS.rangeEntriesMax`; a limit that is not a number >= 0 means the default).
   */
  range(options: Omit<KvRangeQuery, 'type'> = {}): KvRangeResult {
    const { prefix = '', after, limit } = options;
    const bounded =
      typeof limit === 'number' && limit >= 0
        ? Math.min(Math.floor(limit), KV_LIMITS.rangeEntriesMax)
        : KV_LIMITS.rangeEntriesMax;
    return this.store.range(prefix, after, bounded);
  }

  /**
   * Calls `listener` with the changes of every applied command that changed a key (synchronously,
   * inside `apply`). A listener that throws is reported to `onListenerError` and apply goes on.
   * Returns the function that unsubscribes.
   */
  subscribe(listener: KvChangeListener): () => void {
    if (this.subscriptions.size >= this.listenersMax) {
      throw new OverloadedError('change listeners', this.listenersMax);
    }
    const subscription: Subscription = { listener };
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  /**
   * The whole replicated state as canonical text: applied index, log time, every key (value,
   * version, modIndex) and every session (activity, discard mark, cached responses). Two members
   * that applied the same entries return the same text.
   */
  snapshotState(): string {
    const keys = [...this.store.inKeyOrder()].map((entry) => [
      entry.key,
      entry.value,
      entry.version,
      entry.modIndex,
    ]);
    return canonicalJson({
      appliedIndex: this.applied,
      logTimeMs: this.sessions.logTimeMs,
      keys,
      sessions: this.sessions.snapshot(),
    });
  }

  /** A 64-bit hash (16 hex digits) of `snapshotState()`, for cheap comparison across members. */
  digest(): string {
    return hashText(this.snapshotState());
  }

  /**
   * The whole replicated state at `appliedIndex` as versioned, checksummed bytes (see
   * kv-snapshot.ts): keys, client sessions with their cached responses and activity order, log
   * time. Equal states give equal bytes. Call it between applies.
   */
  snapshot(): Uint8Array {
    const state = {
      appliedIndex: this.applied,
      entries: [...this.store.inKeyOrder()],
      sessions: this.sessions.exportState(),
    };
    const bytes = encodeKvSnapshot(state);
    assert(bytes.byteLength > 0, 'a snapshot is never empty');
    return bytes;
  }

  /**
   * Replaces the whole state with `data`, a snapshot taken at `index`; `appliedIndex` becomes
   * `index` (which may be below the current one: the state is replaced, not merged). Afterwards
   * `digest()` equals that of the machine the snapshot was taken from, and both answer the same
   * further commands alike, retries included.
   *
   * Throws `SnapshotFormatError` (code `BAD_SNAPSHOT`) and changes nothing if `data` is not a
   * snapshot taken at `index` within this machine's limits (keysMax, sessionsMax,
   * responsesPerSessionMax), or is corrupt.
   *
   * Change events: subscribers then hear, in one call and in key order, of every key whose entry
   * differs from before — a key that is new or changed with its restored entry (`index` = its
   * modIndex), a key that is gone as a deletion (`value: null`, `version: 0`, `index` = `index`).
   * A view kept in step with the change events thus stays in step across a restore. No call is
   * made when no key differs.
   */
  restore(data: Uint8Array, index: number): void {
    assert(Number.isSafeInteger(index) && index >= 0, 'a snapshot index is a safe integer >= 0');
    const state = decodeKvSnapshot(data, index, this.snapshotLimits());
    const store = KvStore.fromEntries(state.entries);
    const sessions = SessionTable.fromState(this.sessionOptions, state.sessions);
    const changes = diffStores(this.store, store, index);
    this.store = store;
    this.sessions = sessions;
    this.applied = index;
    assert(this.store.size === state.entries.length, 'every restored key is kept');
    this.notify(changes);
  }

  private snapshotLimits(): KvSnapshotLimits {
    return { ...this.sessions.limits, keysMax: this.keysMax };
  }

  private beginEntry(context: ApplyContext): void {
    assert(
      Number.isSafeInteger(context.index) && context.index === this.applied + 1,
      () => `entries apply in order: expected index ${this.applied + 1}, got ${context.index}`,
    );
    this.sessions.advanceLogTime(context.time);
  }

  private applyDecoded(decoded: KvDecodeResult, index: number): CommandOutcome {
    if (!decoded.ok) return unchanged(kvError(decoded.code, index, decoded.message));
    const command = decoded.command;
    switch (command.type) {
      case 'registerSession':
        this.sessions.open(index);
        return unchanged(
          Object.freeze({ type: 'registerSession', ok: true, index, session: index }),
        );
      case 'keepAlive':
        return unchanged(
          this.sessions.keepAlive(command.session)
            ? Object.freeze({ type: 'keepAlive', ok: true, index })
            : sessionExpired(command.session, index),
        );
      case 'closeSession':
        return unchanged(
          this.sessions.close(command.session)
            ? Object.freeze({ type: 'closeSession', ok: true, index })
            : sessionExpired(command.session, index),
        );
      case 'op':
        return this.applyOp(command, index);
    }
  }

  private applyOp(command: KvOpCommand, index: number): CommandOutcome {
    const admission = this.sessions.admit(command.header);
    switch (admission.kind) {
      case 'rejected':
        return unchanged(kvError(admission.code, index, admission.message));
      case 'duplicate':
        assert(admission.response.index < index, 'a cached response comes from an earlier entry');
        return unchanged(admission.response);
      case 'fresh': {
        const outcome: OpOutcome = executeOp(this.store, command.op, index, this.keysMax);
        assert(outcome.result.index === index, 'a fresh result carries its own index');
        this.sessions.remember(command.header, outcome.result);
        return outcome;
      }
    }
  }

  private notify(changes: readonly KvChange[]): void {
    if (changes.length === 0) return;
    for (const subscription of [...this.subscriptions]) {
      if (!this.subscriptions.has(subscription)) continue; // unsubscribed by an earlier listener
      try {
        subscription.listener(changes);
      } catch (error) {
        this.reportListenerError(error);
      }
    }
  }

  private reportListenerError(error: unknown): void {
    try {
      this.onListenerError(error);
    } catch (_ignored) {
      // The error reporter failed too; nothing is left to tell, and apply must go on.
    }
  }
}

function unchanged(result: KvResult): CommandOutcome {
  return { result, changes: [] };
}

function sessionExpired(session: number, index: number): KvResult {
  return kvError('SESSION_EXPIRED', index, `session ${session} is unknown or expired`);
}
