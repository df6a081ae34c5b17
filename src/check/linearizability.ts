/**
 * Linearizability checker for client histories recorded by the simulator.
 *
 * Wing–Gong search with memoization, as in Lowe's "just-in-time linearization" and Porcupine:
 * the call and return events of a history form a doubly linked list sorted by time; the search
 * repeatedly linearizes a pending call whose model step is legal, removes ("lifts") it from the
 * list, and backtracks when it reaches a return event, i.e. an operation that must already have
 * taken effect. A cache of (linearized-set bitset, model state) pairs prunes search states that
 * were already explored. The model decides what is legal, so the checker is generic; histories
 * are split by `Model.partition` (e.g. per key) and each part is checked on its own.
 *
 * Operations whose outcome is unknown (`return === Infinity`, e.g. timed out) may take effect at
 * any point after their call, or never. They have no return event, so they never force a
 * backtrack; the search tries them only where no completed op can go next, and its cache treats
 * a node with fewer of them linearized as dominating one with more. Many of them still make the
 * search slower, so settle what can be settled (e.g. from the committed log) before checking.
 *
 * A check that runs out of budget (steps or wall-clock time) reports `'unknown'`, never `'ok'`.
 */

/** One client operation as recorded: its input, its invoke and response times, its output. */
export interface Operation<I, O> {
  /** Client that issued the operation (for explanations; the checker does not use it). */
  readonly clientId: number;
  /** What the client asked for. */
  readonly input: I;
  /** Invoke time (virtual ms). */
  readonly call: number;
  /**
   * Response time (virtual ms). `Infinity` when the outcome is unknown (e.g. a timeout): such an
   * operation may take effect at any point after its call, or never.
   */
  readonly return: number;
  /**
   * What the client observed; `undefined` when unknown. With a finite `return` and an undefined
   * output, the operation did take effect before `return`, but its output is not checked.
   * Operations known to have failed without effect should not be recorded at all.
   */
  readonly output: O | undefined;
}

/** A subset of a history that is checked on its own, with a label for reports (e.g. the key). */
export interface Partition<I, O> {
  readonly label: string;
  readonly ops: readonly Operation<I, O>[];
}

/** A sequential specification: which outputs are legal for an input in a state. */
export interface Model<S, I, O> {
  /** The initial state. */
  init(): S;
  /**
   * Applies `input` to `state`. `ok` is false when `output` cannot be produced from `state`;
   * `output === undefined` means unknown and must be accepted. Must not mutate `state`.
   */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** Canonical encoding of a state: equal keys mean equal states (used for memoization). */
  key(state: S): string;
  /** Splits a history into parts that are linearizable independently (e.g. per key). */
  partition?(history: readonly Operation<I, O>[]): Partition<I, O>[];
  /** One-line rendering of an operation for explanations, e.g. `get("a") -> "v1"`. */
  describe?(input: I, output: O | undefined): string;
}

/** `'unknown'` means the budget ran out before an answer; it is never a pass. */
export type CheckVerdict = 'ok' | 'illegal' | 'unknown';

/** Limits for one check. */
export interface CheckOptions {
  /** Search steps allowed for each partition (default 2,000,000). */
  budgetStepsPerPartition?: number;
  /** Wall-clock limit for the whole check in ms (default 10,000). */
  timeoutMs?: number;
}

/** Details of a partition that is not linearizable. */
export interface FailingPartition<I, O> {
  /** The partition's label, e.g. `key "a"`. */
  label: string;
  /** All operations of the partition. */
  ops: Operation<I, O>[];
  /** The longest sequence of its operations that the search could linearize. */
  longestPrefix: Operation<I, O>[];
  /** Multi-line text: the partition, the prefix, the state, and the ops that could not go next. */
  explanation: string;
}

/** Outcome of `checkLinearizable`. */
export interface CheckResult<I, O> {
  verdict: CheckVerdict;
  /** Number of partitions the history was split into. */
  partitions: number;
  /** Operations in the partitions whose search finished (ok or illegal). */
  opsChecked: number;
  /** Search steps taken over all partitions. */
  steps: number;
  elapsedMs: number;
  /** Set when the verdict is `'illegal'`. */
  failingPartition?: FailingPartition<I, O>;
  /** Set when the verdict is `'unknown'`: which limit ran out, and where. */
  unknownReason?: string;
}

const BUDGET_STEPS_PER_PARTITION_DEFAULT = 2_000_000;
const TIMEOUT_MS_DEFAULT = 10_000;
/** The clock is read once per this many steps (a power of two). */
const CLOCK_CHECK_INTERVAL_STEPS = 1024;
const EXPLAIN_PREFIX_OPS_MAX = 10;
const EXPLAIN_CANDIDATE_OPS_MAX = 20;

/**
 * Checks that `history` is linearizable with respect to `model`.
 *
 * Returns `'illegal'` as soon as one partition is not linearizable (with an explanation),
 * `'unknown'` if some partition could not be decided within the limits, and `'ok'` otherwise.
 * Throws `RangeError` for malformed histories (non-finite call, return before call).
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const budgetSteps = options.budgetStepsPerPartition ?? BUDGET_STEPS_PER_PARTITION_DEFAULT;
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
  assert(budgetSteps > 0 && timeoutMs > 0, 'limits must be positive');
  for (const op of history) validateOperation(op);

  const started = performance.now();
  const deadline = started + timeoutMs;
  const partitions = model.partition?.(history) ?? [{ label: 'all operations', ops: history }];
  const historyIndex = new Map<Operation<I, O>, number>();
  history.forEach((op, index) => historyIndex.set(op, index));

  let steps = 0;
  let opsChecked = 0;
  let unknownReason: string | undefined;
  for (const partition of partitions) {
    if (performance.now() > deadline) {
      unknownReason ??= `timed out after ${timeoutMs} ms before partition ${partition.label}`;
      break;
    }
    const outcome = searchPartition(model, partition.ops, budgetSteps, deadline);
    steps += outcome.steps;
    if (outcome.kind === 'unknown') {
      unknownReason ??= `${outcome.reason} in partition ${partition.label} (${partition.ops.length} ops)`;
      continue; // Another partition may still be found illegal.
    }
    opsChecked += partition.ops.length;
    if (outcome.kind === 'illegal') {
      return {
        verdict: 'illegal',
        partitions: partitions.length,
        opsChecked,
        steps,
        elapsedMs: performance.now() - started,
        failingPartition: explainFailure(model, partition, outcome, historyIndex),
      };
    }
  }
  const result: CheckResult<I, O> = {
    verdict: unknownReason === undefined ? 'ok' : 'unknown',
    partitions: partitions.length,
    opsChecked,
    steps,
    elapsedMs: performance.now() - started,
  };
  if (unknownReason !== undefined) result.unknownReason = unknownReason;
  return result;
}

function validateOperation<I, O>(op: Operation<I, O>): void {
  if (!Number.isFinite(op.call)) {
    throw new RangeError(`operation call time ${op.call} is not finite`);
  }
  if (Number.isNaN(op.return) || op.return < op.call) {
    throw new RangeError(`operation returns at ${op.return}, before its call at ${op.call}`);
  }
}

type SearchOutcome<S> =
  | { kind: 'ok'; steps: number }
  | { kind: 'unknown'; steps: number; reason: string }
  | { kind: 'illegal'; steps: number; longestPrefix: number[]; stateAfterPrefix: S };

/**
 * A doubly linked list over the integers `0..size-1` in a given order, over typed arrays, from
 * which items are removed and restored in last-in first-out order (as a backtracking search
 * does). Index `size` is the head sentinel; `-1` ends the list.
 */
class UndoableList {
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;

  constructor(size: number, order: readonly number[]) {
    this.head = size;
    this.next = new Int32Array(size + 1).fill(-1);
    this.prev = new Int32Array(size + 1).fill(-1);
    let last = this.head;
    for (const item of order) {
      assert(this.prev[item] === -1 && item !== this.head, `item ${item} listed twice`);
      this.next[last] = item;
      this.prev[item] = last;
      last = item;
    }
  }

  /** The first item still listed, or -1. */
  first(): number {
    return at(this.next, this.head);
  }

  /** The item after `item` (which may have been removed since), or -1. */
  after(item: number): number {
    return at(this.next, item);
  }

  remove(item: number): void {
    const before = at(this.prev, item);
    const after = at(this.next, item);
    assert(before !== -1, `item ${item} is not listed`);
    this.next[before] = after;
    if (after !== -1) this.prev[after] = before;
  }

  /** Undoes `remove(item)`; valid only for the most recently removed item still missing. */
  restore(item: number): void {
    const before = at(this.prev, item);
    const after = at(this.next, item);
    assert(at(this.next, before) === after, 'restore out of order');
    this.next[before] = item;
    if (after !== -1) this.prev[after] = item;
  }
}

/**
 * The pending operations of one partition, as the search sees them.
 *
 * `events` lists the call and return events of the completed ops (finite `return`): event
 * `i < n` is the call of op `i`, event `n + i` its return. They are sorted by time; at equal
 * times calls come before returns, so an op that returns at the instant another is invoked
 * counts as concurrent with it (the permissive choice: either order may be linearized). Ties
 * among calls or among returns go by op index, for determinism.
 *
 * `unknowns` lists the unknown-outcome ops (`return === Infinity`) by call time. They have no
 * return event: nothing forces them to take effect. Keeping them out of `events` means the
 * scan for completed candidates does not walk past every timed-out op still pending.
 */
class PendingOps {
  readonly events: UndoableList;
  readonly unknowns: UndoableList;
  private readonly n: number;
  private readonly ops: readonly Operation<unknown, unknown>[];

  constructor(ops: readonly Operation<unknown, unknown>[]) {
    const n = ops.length;
    this.n = n;
    this.ops = ops;
    const timeOf = (e: number): number => (e < n ? opAt(ops, e).call : opAt(ops, e - n).return);
    const byTimeCallsFirst = (a: number, b: number): number => {
      const ta = timeOf(a);
      const tb = timeOf(b);
      if (ta !== tb) return ta < tb ? -1 : 1;
      const returnA = a >= n ? 1 : 0;
      const returnB = b >= n ? 1 : 0;
      return returnA !== returnB ? returnA - returnB : a - b;
    };
    const completed = ops.flatMap((op, i) => (op.return === Infinity ? [] : [i]));
    const unknown = ops.flatMap((op, i) => (op.return === Infinity ? [i] : []));
    this.events = new UndoableList(
      2 * n,
      [...completed, ...completed.map((i) => n + i)].sort(byTimeCallsFirst),
    );
    this.unknowns = new UndoableList(n, unknown.sort(byTimeCallsFirst));
  }

  isCall(event: number): boolean {
    return event < this.n;
  }

  /** The time of a return event. */
  returnTime(event: number): number {
    assert(!this.isCall(event), `event ${event} is not a return`);
    return opAt(this.ops, event - this.n).return;
  }

  /** Removes op `op` from the pending ops (it has been linearized). */
  lift(op: number): void {
    if (opAt(this.ops, op).return === Infinity) {
      this.unknowns.remove(op);
      return;
    }
    this.events.remove(op);
    this.events.remove(op + this.n);
  }

  /** Undoes `lift(op)`, in last-in first-out order. */
  unlift(op: number): void {
    if (opAt(this.ops, op).return === Infinity) {
      this.unknowns.restore(op);
      return;
    }
    this.events.restore(op + this.n);
    this.events.restore(op);
  }
}

/**
 * Runs the memoized search on one partition.
 *
 * At each search node the candidates are the pending ops called no later than the first
 * pending return. The search first tries the completed ones, walking `events` up to that
 * return; only if none leads to a linearization does it try the unknown-outcome ones (the
 * "unknown pass"). So a timed-out op is linearized only when no completed op can go next, and
 * the branch in which it never takes effect is explored before those in which it does;
 * together with the dominance rule of `SearchCache` this keeps timed-out ops from
 * multiplying the search.
 */
function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budgetSteps: number,
  deadline: number,
): SearchOutcome<S> {
  const n = ops.length;
  const pending = new PendingOps(ops);
  const linearized = new LinearizedSet(ops);
  const cache = new SearchCache();
  const stackCall = new Int32Array(n);
  const stackUnknownPass = new Uint8Array(n);
  const stackCallTimeMax = new Float64Array(n);
  const stackState: S[] = [];
  let state = model.init();
  cache.visit(linearized, model.key(state));
  let depth = 0;
  let longestPrefix = new Int32Array(0);
  let stateAfterLongest = state;
  // Unknown-outcome ops may never take effect, so the search is done once every completed op
  // is linearized; the unknown-outcome ops still pending are the ones that never happened.
  let completedLeft = linearized.completedCount;
  let unknownPass = false;
  /** In the unknown pass: candidates must be called no later than this (the first return). */
  let callTimeMax = -Infinity;
  let steps = 0;
  let cursor = pending.events.first();

  while (completedLeft > 0) {
    steps++;
    if (steps > budgetSteps)
      return { kind: 'unknown', steps, reason: `step budget ${budgetSteps} exhausted` };
    if (steps % CLOCK_CHECK_INTERVAL_STEPS === 0 && performance.now() > deadline) {
      return { kind: 'unknown', steps, reason: 'timed out' };
    }
    if (!unknownPass) {
      assert(cursor !== -1, 'a completed op is pending, so its return event lies ahead');
      if (pending.isCall(cursor)) {
        if (!tryLinearize(cursor)) cursor = pending.events.after(cursor);
        continue;
      }
      // The first pending return: every completed candidate has been tried.
      unknownPass = true;
      callTimeMax = pending.returnTime(cursor);
      cursor = pending.unknowns.first();
    } else if (cursor !== -1 && opAt(ops, cursor).call <= callTimeMax) {
      if (!tryLinearize(cursor)) cursor = pending.unknowns.after(cursor);
    } else if (!backtrack()) {
      return {
        kind: 'illegal',
        steps,
        longestPrefix: Array.from(longestPrefix),
        stateAfterPrefix: stateAfterLongest,
      };
    }
  }
  assert(depth <= n, 'each op is linearized at most once');
  return { kind: 'ok', steps };

  /** Linearizes `op` next if its step is legal and leads to an unexplored search node. */
  function tryLinearize(op: number): boolean {
    const operation = opAt(ops, op);
    const stepped = model.step(state, operation.input, operation.output);
    if (!stepped.ok) return false;
    const stateKey = model.key(stepped.state);
    if (unknownPass && isRedundantInChain(op, stateKey)) return false;
    linearized.add(op);
    if (!cache.visit(linearized, stateKey)) {
      linearized.delete(op);
      return false;
    }
    stackCall[depth] = op;
    stackUnknownPass[depth] = unknownPass ? 1 : 0;
    stackCallTimeMax[depth] = callTimeMax;
    stackState[depth] = state;
    depth++;
    state = stepped.state;
    if (!linearized.isUnknown(op)) completedLeft--;
    pending.lift(op);
    unknownPass = false;
    cursor = pending.events.first();
    return true;
  }

  /** Undoes the most recent choice and moves to the next candidate; false at the root. */
  function backtrack(): boolean {
    if (depth === 0) return false;
    if (depth > longestPrefix.length) {
      longestPrefix = stackCall.slice(0, depth);
      stateAfterLongest = state;
    }
    depth--;
    const op = at(stackCall, depth);
    state = stackState[depth] as S;
    unknownPass = stackUnknownPass[depth] === 1;
    callTimeMax = at(stackCallTimeMax, depth);
    linearized.delete(op);
    if (!linearized.isUnknown(op)) completedLeft++;
    pending.unlift(op);
    cursor = unknownPass ? pending.unknowns.after(op) : pending.events.after(op);
    return true;
  }

  /**
   * Whether unknown-outcome op `op`, about to follow unknown-outcome op `u`, leads to the same
   * state as it would right before `u`: then the sibling branch without `u`, which the parent's
   * unknown pass tries too, has the same completed ops and state and fewer unknown-outcome ops,
   * and dominates this one (see `SearchCache`). This stops chains of timed-out writes that
   * overwrite each other from being explored in every order and subset.
   */
  function isRedundantInChain(op: number, stateKeyAfter: string): boolean {
    if (!followsUnknown()) return false;
    const operation = opAt(ops, op);
    const withoutPrevious = model.step(
      stackState[depth - 1] as S,
      operation.input,
      operation.output,
    );
    return withoutPrevious.ok && model.key(withoutPrevious.state) === stateKeyAfter;
  }

  /** Whether the most recently linearized op has an unknown outcome. */
  function followsUnknown(): boolean {
    return depth > 0 && linearized.isUnknown(at(stackCall, depth - 1));
  }
}

/**
 * The set of linearized ops, kept as two bitsets: one over the completed ops and one over the
 * unknown-outcome ops (`return === Infinity`). The completed part carries a running Zobrist
 * hash (two random 32-bit words per op, XOR-ed in and out), so hashing costs O(1) per step.
 */
class LinearizedSet {
  readonly completed: Uint32Array;
  readonly unknown: Uint32Array;
  readonly completedCount: number;
  hashA = 0;
  hashB = 0;
  /** Per op: its bit index within `completed` or `unknown`. */
  private readonly slot: Int32Array;
  private readonly unknownOp: Uint8Array;
  private readonly zobristA: Uint32Array;
  private readonly zobristB: Uint32Array;

  constructor(ops: readonly Operation<unknown, unknown>[]) {
    this.slot = new Int32Array(ops.length);
    this.unknownOp = new Uint8Array(ops.length);
    let completedCount = 0;
    let unknownCount = 0;
    ops.forEach((op, i) => {
      const unknown = op.return === Infinity;
      this.unknownOp[i] = unknown ? 1 : 0;
      this.slot[i] = unknown ? unknownCount++ : completedCount++;
    });
    this.completedCount = completedCount;
    this.completed = new Uint32Array(Math.ceil(completedCount / 32));
    this.unknown = new Uint32Array(Math.ceil(unknownCount / 32));
    const random = xorshift32(0x9e3779b9);
    this.zobristA = Uint32Array.from({ length: completedCount }, random);
    this.zobristB = Uint32Array.from({ length: completedCount }, random);
  }

  isUnknown(op: number): boolean {
    return this.unknownOp[op] === 1;
  }

  add(op: number): void {
    assert(!this.has(op), `op ${op} linearized twice`);
    this.toggle(op);
  }

  delete(op: number): void {
    assert(this.has(op), `op ${op} is not linearized`);
    this.toggle(op);
  }

  private has(op: number): boolean {
    const slot = at(this.slot, op);
    const words = this.isUnknown(op) ? this.unknown : this.completed;
    return (at(words, slot >>> 5) & (1 << (slot & 31))) !== 0;
  }

  private toggle(op: number): void {
    const slot = at(this.slot, op);
    const words = this.isUnknown(op) ? this.unknown : this.completed;
    words[slot >>> 5] = at(words, slot >>> 5) ^ (1 << (slot & 31));
    if (this.isUnknown(op)) return;
    this.hashA = (this.hashA ^ at(this.zobristA, slot)) >>> 0;
    this.hashB = (this.hashB ^ at(this.zobristB, slot)) >>> 0;
  }
}

/**
 * Remembers the search nodes (linearized set, state) entered so far and refuses nodes that
 * are no more promising than one of them.
 *
 * A node is refused when an earlier node had the same state, the same linearized completed
 * ops, and a subset of its linearized unknown-outcome ops. That is Porcupine's exact rule when
 * no op has an unknown outcome. With them it is still sound: such ops constrain nothing, so any
 * completion of the refused node, minus its extra unknown-outcome ops (which simply never take
 * effect), is a completion of the earlier node, whose subtree the search covers.
 *
 * Nodes are bucketed by the Zobrist hash of the completed part and the state key; within a
 * bucket the bitsets are compared exactly, so hash collisions cost time, never correctness.
 */
class SearchCache {
  private readonly seen = new Map<number, CachedNode[]>();

  /** Records the node; returns false if it is refused (an equal or better one was seen). */
  visit(linearized: LinearizedSet, stateKey: string): boolean {
    // 53 bits of hash: 32 from the first Zobrist word mixed with the state key, 21 from the second.
    const key = ((linearized.hashA ^ fnv1a(stateKey)) >>> 0) * 0x200000 + (linearized.hashB >>> 11);
    const node = { stateKey, completed: linearized.completed, unknown: linearized.unknown };
    const bucket = this.seen.get(key);
    if (bucket?.some((seen) => dominates(seen, node)) === true) return false;
    const copy = { stateKey, completed: node.completed.slice(), unknown: node.unknown.slice() };
    if (bucket === undefined) {
      this.seen.set(key, [copy]);
      return true;
    }
    // Keep each bucket an antichain: nodes the new one dominates can no longer refuse anything
    // that the new one would not.
    const kept = bucket.filter((seen) => !dominates(copy, seen));
    kept.push(copy);
    this.seen.set(key, kept);
    return true;
  }
}

type CachedNode = {
  readonly stateKey: string;
  readonly completed: Uint32Array;
  readonly unknown: Uint32Array;
};

/** Whether `a` dominates `b`: same state, same completed ops, a subset of the unknown-outcome ops. */
function dominates(a: CachedNode, b: CachedNode): boolean {
  return (
    a.stateKey === b.stateKey &&
    isSubsetOf(a.unknown, b.unknown) &&
    sameWords(a.completed, b.completed)
  );
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSubsetOf(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((at(a, i) & ~at(b, i)) !== 0) return false;
  return true;
}

/** Deterministic 32-bit generator, so searches (and their step counts) are reproducible. */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Builds the report for a partition whose search ended `'illegal'`. */
function explainFailure<S, I, O>(
  model: Model<S, I, O>,
  partition: Partition<I, O>,
  outcome: Extract<SearchOutcome<S>, { kind: 'illegal' }>,
  historyIndex: ReadonlyMap<Operation<I, O>, number>,
): FailingPartition<I, O> {
  const ops = partition.ops;
  const render = (index: number): string => {
    const op = opAt(ops, index);
    const id = historyIndex.get(op) ?? index;
    const end = op.return === Infinity ? '?' : String(op.return);
    const what = model.describe?.(op.input, op.output) ?? JSON.stringify([op.input, op.output]);
    return `#${id} client ${op.clientId} [${op.call}, ${end}] ${what}`;
  };
  const inPrefix = new Set(outcome.longestPrefix);
  const remaining = ops.map((_, i) => i).filter((i) => !inPrefix.has(i));
  // The next op of any linearization extending the prefix must be called no later than the
  // first return among the remaining completed ops.
  const deadline = remaining.reduce(
    (earliest, i) => Math.min(earliest, opAt(ops, i).return),
    Infinity,
  );
  const candidates = remaining
    .filter((i) => opAt(ops, i).call <= deadline)
    .sort((a, b) => opAt(ops, a).call - opAt(ops, b).call);
  const state = outcome.stateAfterPrefix;
  const stateKey = model.key(state);

  const lines = [
    `partition ${partition.label} is not linearizable (${ops.length} ops).`,
    `longest linearizable prefix: ${outcome.longestPrefix.length} of ${ops.length} ops` +
      (outcome.longestPrefix.length > EXPLAIN_PREFIX_OPS_MAX
        ? `, the last ${EXPLAIN_PREFIX_OPS_MAX}:`
        : ':'),
    ...outcome.longestPrefix.slice(-EXPLAIN_PREFIX_OPS_MAX).map((i) => `  ${render(i)}`),
    `state after the prefix: ${stateKey}`,
    `ops that could go next (called by t=${deadline}), none of which leads to a linearization:`,
    ...candidates.slice(0, EXPLAIN_CANDIDATE_OPS_MAX).map((i) => {
      const op = opAt(ops, i);
      const legal = model.step(state, op.input, op.output).ok;
      return `  ${render(i)}  ${legal ? 'legal here, but every continuation fails' : `illegal in state ${stateKey}`}`;
    }),
  ];
  if (candidates.length > EXPLAIN_CANDIDATE_OPS_MAX) {
    lines.push(`  ... and ${candidates.length - EXPLAIN_CANDIDATE_OPS_MAX} more`);
  }
  return {
    label: partition.label,
    ops: [...ops],
    longestPrefix: outcome.longestPrefix.map((i) => opAt(ops, i)),
    explanation: lines.join('\n'),
  };
}

function opAt<I, O>(ops: readonly Operation<I, O>[], index: number): Operation<I, O> {
  const op = ops[index];
  assert(op !== undefined, `op index ${index} out of range`);
  return op;
}

function at(array: Int32Array | Uint32Array | Float64Array, index: number): number {
  const value = array[index];
  assert(value !== undefined, `index ${index} out of range`);
  return value;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`linearizability checker: ${message}`);
}
