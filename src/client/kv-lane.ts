/**
 * The hot path between a page and its member's worker: KV operations and the stream of applied
 * changes, over one MessagePort, in batches. Comlink costs a structured-clone message, a UUID and
 * a reply per call; at thousands of writes a second that was most of a tab's CPU. Here every
 * call made in one turn of the page's event loop goes to the worker as one message, and every
 * result and change the worker has in one turn comes back as one — changes before results, so a
 * tab's subscribers have seen a write by the time its `put` resolves.
 *
 * Errors cross with their class, `code` and fields intact (comlink keeps only name and message),
 * so `error instanceof NotLeaderError` and `error.code === 'TIMEOUT'` work on the page.
 */
import {
  InvariantError,
  LeadershipTransferError,
  NotLeaderError,
  OverloadedError,
  UnknownMemberError,
} from '../core/errors.js';
import { ConfigChangeInProgressError, InvalidConfigChangeError } from '../core/membership.js';
import {
  LeaderChangedError,
  MemberStoppedError,
  ProposalDroppedError,
  TimeoutError,
} from '../runtime/errors.js';
import type { ReadConsistency } from '../runtime/member.js';
import { InvalidKvCommandError } from '../state/kv-commands.js';
import type { JsonValue, KvChange, KvTxnCheck, KvTxnWrite } from '../state/kv-types.js';
import {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from '../storage/errors.js';
import { KvCommandError } from './kv-session.js';

/** One KV operation as it crosses to the worker. */
export type KvLaneOp =
  | { readonly type: 'put'; readonly key: string; readonly value: JsonValue }
  | { readonly type: 'delete'; readonly key: string }
  | {
      readonly type: 'cas';
      readonly key: string;
      readonly expected: JsonValue | null;
      readonly next: JsonValue;
    }
  | {
      readonly type: 'txn';
      readonly checks: readonly KvTxnCheck[];
      readonly writes: readonly KvTxnWrite[];
    }
  | { readonly type: 'get'; readonly key: string; readonly consistency: ReadConsistency };

/** An error as it crosses: enough to rebuild its class and every field a caller matches on. */
export interface LaneError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Own data fields (`code`, `leaderId`, ...), structured-cloneable. */
  readonly fields: Record<string, unknown>;
  readonly cause?: LaneError;
}

type LaneResult =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: LaneError };

/** Page to worker. */
type ToWorker =
  | { readonly kind: 'calls'; readonly calls: readonly { id: number; op: KvLaneOp }[] }
  | { readonly kind: 'watch'; readonly on: boolean };

/** Worker to page. */
interface ToPage {
  readonly changes: readonly (readonly KvChange[])[];
  readonly results: readonly LaneResult[];
}

/** What the worker side serves. */
export interface KvLaneHandlers {
  run(op: KvLaneOp): Promise<unknown>;
  /** Calls `listener` with the changes of every command applied from now on; returns the stop. */
  watch(listener: (changes: readonly KvChange[]) => void): () => void;
}

/** Serves the lane on `port` in the worker until the port closes. */
export function serveKvLane(port: MessagePort, handlers: KvLaneHandlers): void {
  let changes: (readonly KvChange[])[] = [];
  let results: LaneResult[] = [];
  let flushScheduled = false;
  let stopWatching: (() => void) | null = null;
  const flush = (): void => {
    flushScheduled = false;
    const message: ToPage = { changes, results };
    changes = [];
    results = [];
    port.postMessage(message);
  };
  // Results that settle in one turn (a batch of commits applied together) leave as one message.
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    queueMicrotask(flush);
  };
  const settle = (result: LaneResult): void => {
    results.push(result);
    scheduleFlush();
  };
  port.onmessage = (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.kind === 'watch') {
      stopWatching?.();
      stopWatching = message.on
        ? handlers.watch((batch) => {
            changes.push(batch);
            scheduleFlush();
          })
        : null;
      return;
    }
    for (const { id, op } of message.calls) {
      let running: Promise<unknown>;
      try {
        running = handlers.run(op);
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => settle({ id, ok: true, value }),
        (error: unknown) => settle({ id, ok: false, error: toLaneError(error) }),
      );
    }
  };
}

/** The page side: calls batched per turn, changes delivered to every listener. */
export class KvLaneClient {
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private readonly listeners = new Set<(changes: readonly KvChange[]) => void>();
  private outbox: { id: number; op: KvLaneOp }[] = [];
  private nextId = 0;
  private closedError: Error | null = null;

  constructor(private readonly port: MessagePort) {
    port.onmessage = (event: MessageEvent<ToPage>) => this.receive(event.data);
  }

  call(op: KvLaneOp): Promise<unknown> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const id = ++this.nextId;
    if (this.outbox.length === 0) queueMicrotask(() => this.send());
    this.outbox.push({ id, op });
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Adds a change listener; the worker streams changes while there is at least one. */
  subscribe(listener: (changes: readonly KvChange[]) => void): () => void {
    if (this.listeners.size === 0) this.post({ kind: 'watch', on: true });
    this.listeners.add(listener);
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      this.post({ kind: 'watch', on: false });
    };
  }

  /** Fails every call still waiting (the member is gone) and every later one. */
  close(error: Error): void {
    if (this.closedError !== null) return;
    this.closedError = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    this.outbox = [];
    this.listeners.clear();
    this.port.close();
  }

  private send(): void {
    const calls = this.outbox;
    this.outbox = [];
    if (calls.length === 0 || this.closedError !== null) return;
    try {
      this.port.postMessage({ kind: 'calls', calls } satisfies ToWorker);
    } catch {
      // A value that cannot be cloned (a function, a DOM node): only its own call fails.
      for (const call of calls) {
        try {
          this.port.postMessage({ kind: 'calls', calls: [call] } satisfies ToWorker);
        } catch (error) {
          this.pending.get(call.id)?.reject(error as Error);
          this.pending.delete(call.id);
        }
      }
    }
  }

  private post(message: ToWorker): void {
    if (this.closedError === null) this.port.postMessage(message);
  }

  private receive({ changes, results }: ToPage): void {
    for (const batch of changes) {
      for (const listener of this.listeners) {
        try {
          listener(batch);
        } catch (error) {
          // One listener's bug must not starve the others or the results below.
          (globalThis.reportError ?? console.error)(error);
        }
      }
    }
    for (const result of results) {
      const pending = this.pending.get(result.id);
      if (pending === undefined) continue;
      this.pending.delete(result.id);
      if (result.ok) pending.resolve(result.value);
      else pending.reject(fromLaneError(result.error));
    }
  }
}

/**
 * The classes a caller may match on, by the `name` each sets: rebuilt as themselves on the page.
 * Named here, not read from `Class.name`, which a minifier renames.
 */
const KNOWN_ERRORS: Record<string, { prototype: Error }> = {
  NotLeaderError,
  LeadershipTransferError,
  UnknownMemberError,
  OverloadedError,
  InvariantError,
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  TimeoutError,
  LeaderChangedError,
  ProposalDroppedError,
  MemberStoppedError,
  InvalidKvCommandError,
  KvCommandError,
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
};

const CAUSE_DEPTH_MAX = 4;

export function toLaneError(error: unknown, depth = 0): LaneError {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: String(error), fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(error)) {
    if (field === 'cause' || typeof value === 'function') continue;
    if (value === null || typeof value !== 'object') fields[field] = value;
  }
  const { cause } = error as { cause?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    fields,
    ...(cause !== undefined && depth < CAUSE_DEPTH_MAX
      ? { cause: toLaneError(cause, depth + 1) }
      : {}),
  };
}

export function fromLaneError(crossed: LaneError): Error {
  const type = Object.prototype.hasOwnProperty.call(KNOWN_ERRORS, crossed.name)
    ? KNOWN_ERRORS[crossed.name]!
    : Error;
  const error = Object.create(type.prototype) as Error;
  Object.defineProperties(error, {
    name: { value: crossed.name, writable: true, configurable: true },
    message: { value: crossed.message, writable: true, configurable: true },
    stack: { value: crossed.stack ?? `${crossed.name}: ${crossed.message}`, writable: true },
  });
  Object.assign(error, crossed.fields);
  if (crossed.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: fromLaneError(crossed.cause),
      writable: true,
      configurable: true,
    });
  }
  return error;
}
