/**
 * The client history of one run: every operation with its invoke time, return time and output
 * (TESTING.md 1). Writes whose outcome the client never learned are settled from what the cluster
 * applied (TESTING.md 2): applied → they took effect, with the first application's result, no
 * later than its time; never applied → they never happened and leave the history.
 */
import type { KvResult } from '../../src/state/kv-types.js';
import type { ApplyLog } from './apply-log.js';
import type { KvInput, KvOperation, KvOutput } from '../../src/check/kv-model.js';

export type OpStatus = 'pending' | 'ok' | 'unknown' | 'failed';

/** One client operation as the client saw it. */
export interface OpRecord {
  readonly client: number;
  readonly input: KvInput;
  readonly call: number;
  return: number;
  output: KvOutput | undefined;
  status: OpStatus;
  /** The session command that carried a write (null for reads). */
  readonly session: number | null;
  readonly seq: number | null;
}

/** What settling did, for reports. */
export interface SettleSummary {
  readonly operations: KvOperation[];
  readonly acked: number;
  readonly unknownApplied: number;
  readonly unknownDropped: number;
  /** Acknowledged writes whose output differs from their first application (a driver/session bug). */
  readonly mismatches: string[];
}

/** Most operations recorded per run (a limit on everything). */
export const HISTORY_OPS_MAX = 20_000;

/** The operations of one run, in invocation order. */
export class History {
  readonly ops: OpRecord[] = [];

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.ops.length;
  }

  /** Records an invocation; the caller completes it with `ok`, `unknown` or `fail`. */
  invoke(client: number, input: KvInput, session: number | null, seq: number | null): OpRecord {
    if (this.ops.length >= HISTORY_OPS_MAX)
      throw new Error(`history is full (${HISTORY_OPS_MAX} ops)`);
    const op: OpRecord = {
      client,
      input,
      call: this.now(),
      return: Infinity,
      output: undefined,
      status: 'pending',
      session,
      seq,
    };
    this.ops.push(op);
    return op;
  }

  ok(op: OpRecord, output: KvOutput): void {
    op.status = 'ok';
    op.return = this.now();
    op.output = output;
  }

  /** The outcome is unknown: it may have taken effect (writes) — settle it from the log. */
  unknown(op: OpRecord): void {
    op.status = 'unknown';
  }

  /** Definitely without effect (a read that never got an answer): left out of the history. */
  fail(op: OpRecord): void {
    op.status = 'failed';
  }

  /** Builds the history for the checker, settling unknown writes from `applyLog`. */
  settle(applyLog: ApplyLog): SettleSummary {
    const operations: KvOperation[] = [];
    const mismatches: string[] = [];
    let acked = 0;
    let unknownApplied = 0;
    let unknownDropped = 0;
    for (const op of this.ops) {
      const first =
        op.session === null ? undefined : applyLog.firstApplication(op.session, op.seq!);
      const applied = first === undefined ? null : outputOf(op.input, first.result);
      if (op.status === 'ok') {
        acked++;
        if (op.session !== null && !sameOutput(applied, op.output)) {
          mismatches.push(
            `client ${op.client} ${op.input.op} seq ${op.seq} got ${JSON.stringify(op.output)}, first applied as ${JSON.stringify(first?.result ?? null)}`,
          );
        }
        operations.push(toOperation(op, op.return, op.output));
      } else if (op.status !== 'failed' && op.session !== null) {
        if (first === undefined || applied === null) {
          unknownDropped++;
          continue;
        }
        unknownApplied++;
        operations.push(toOperation(op, first.timeMs, applied));
      }
    }
    return { operations, acked, unknownApplied, unknownDropped, mismatches };
  }
}

/** The model's view of a KV result; null when the command had no effect (an error result). */
export function outputOf(input: KvInput, result: KvResult): KvOutput | null {
  switch (result.type) {
    case 'put':
    case 'delete':
      return input.op === result.type ? {} : null;
    case 'cas':
      return input.op === 'cas' ? { ok: result.ok } : null;
    default:
      return null;
  }
}

function sameOutput(a: KvOutput | null | undefined, b: KvOutput | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function toOperation(op: OpRecord, returnMs: number, output: KvOutput | undefined): KvOperation {
  return {
    clientId: op.client,
    input: op.input,
    call: op.call,
    return: Math.max(returnMs, op.call),
    output,
  };
}
