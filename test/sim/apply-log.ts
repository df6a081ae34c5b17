/**
 * Watches what members apply. Each member's KV state machine is wrapped so that every applied
 * entry is reported (member, index, term, command, result, virtual time), and so is every snapshot
 * taken or restored (member, index, digest of the state's canonical snapshot encoding). The simulator uses it for state machine safety
 * (the same entry at the same index everywhere; the same state in every snapshot at one index) and
 * to settle client writes whose outcome the client never learned (TESTING.md 2): the first
 * application of a (session, seq) anywhere in the cluster is when, and how, that write took effect.
 */
import type { MemberId } from '../../src/core/types.js';
import { decodeKvCommand } from '../../src/state/kv-codec.js';
import type { KvQuery, KvQueryResult, KvResult } from '../../src/state/kv-types.js';
import type { KvStateMachine } from '../../src/state/kv.js';
import type { ApplyContext, StateMachine } from '../../src/state/state-machine.js';

/** The first time any member applied one session command, and what that application returned. */
export interface FirstApplication {
  readonly index: number;
  readonly timeMs: number;
  readonly result: KvResult;
}

/** Told about every applied entry; `command` is null for a no-op. */
export type ApplyListener = (
  member: MemberId,
  context: ApplyContext,
  command: Uint8Array | null,
  result: KvResult | null,
) => void;

/** A snapshot was taken of, or restored into, a member's state machine. */
export type SnapshotKind = 'take' | 'restore';

/** Told about every snapshot taken or restored, with the KV digest of the state at `index`. */
export type SnapshotListener = (
  member: MemberId,
  kind: SnapshotKind,
  index: number,
  digest: string,
) => void;

/** Records first applications of session commands, keyed by `session:seq`. */
export class ApplyLog {
  private readonly firsts = new Map<string, FirstApplication>();
  /** Applied entries seen, over all members (for reports). */
  appliedEntries = 0;
  /** Snapshots taken of a state machine (for compaction), over all members. */
  snapshotsTaken = 0;
  /** Snapshots restored into a state machine (installed from a leader, or loaded at start). */
  snapshotsRestored = 0;

  constructor(
    private readonly now: () => number,
    private readonly listener: ApplyListener,
    private readonly snapshotListener: SnapshotListener = () => undefined,
  ) {}

  /** Wraps a member's state machine so that its applies and snapshots are observed. */
  observe(member: MemberId, inner: KvStateMachine): ObservedStateMachine {
    return new ObservedStateMachine(
      inner,
      (context, command, result) => {
        this.appliedEntries++;
        this.listener(member, context, command, result);
        if (command !== null && result !== null) this.recordFirst(context, command, result);
      },
      (kind, index, digest) => {
        if (kind === 'take') this.snapshotsTaken++;
        else this.snapshotsRestored++;
        this.snapshotListener(member, kind, index, digest);
      },
    );
  }

  /** The first application of `(session, seq)` anywhere, if there was one. */
  firstApplication(session: number, seq: number): FirstApplication | undefined {
    return this.firsts.get(`${session}:${seq}`);
  }

  private recordFirst(context: ApplyContext, command: Uint8Array, result: KvResult): void {
    const decoded = decodeKvCommand(command);
    if (!decoded.ok || decoded.command.type !== 'op') return;
    const key = `${decoded.command.header.session}:${decoded.command.header.seq}`;
    // Events run in time order, so the first report is the earliest application anywhere. (That
    // members apply it at the same index is state machine safety, checked by the invariants.)
    if (!this.firsts.has(key))
      this.firsts.set(key, { index: context.index, timeMs: this.now(), result });
  }
}

/** A KV state machine that reports every apply and snapshot; everything else is passed through. */
export class ObservedStateMachine implements StateMachine<KvResult, KvQuery, KvQueryResult> {
  constructor(
    readonly inner: KvStateMachine,
    private readonly report: (
      context: ApplyContext,
      command: Uint8Array | null,
      result: KvResult | null,
    ) => void,
    private readonly reportSnapshot: (kind: SnapshotKind, index: number, digest: string) => void,
  ) {}

  get appliedIndex(): number {
    return this.inner.appliedIndex;
  }

  apply(command: Uint8Array, context: ApplyContext): KvResult {
    const result = this.inner.apply(command, context);
    this.report(context, command, result);
    return result;
  }

  applyNoop(context: ApplyContext): void {
    this.inner.applyNoop(context);
    this.report(context, null, null);
  }

  query(query: KvQuery): KvQueryResult {
    return this.inner.query(query);
  }

  /** Reported with the digest of its bytes: KV snapshots are canonical (equal states, equal bytes). */
  snapshot(): Uint8Array {
    const data = this.inner.snapshot();
    this.reportSnapshot('take', this.inner.appliedIndex, bytesDigest(data));
    return data;
  }

  /**
   * Restores (throws, changing nothing, on bad bytes); reported once it succeeded, with the digest
   * of the restored state encoded again — equal to the taker's only if the restore reproduced it.
   */
  restore(data: Uint8Array, index: number): void {
    this.inner.restore(data, index);
    this.reportSnapshot('restore', index, bytesDigest(this.inner.snapshot()));
  }
}

/** A 64-bit digest (16 hex digits) of `bytes`: two 32-bit FNV-1a variants. */
export function bytesDigest(bytes: Uint8Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193);
    b = Math.imul(b ^ bytes[i]!, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
