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
  if (!Number.isFinite(op.call)) throw new RangeError(`operation call time ${op.call} is not finite`);
  if (Number.isNaN(op.return) || op.return < op.call) {
    throw new RangeError(`operation returns at ${op.return}, before its call at ${op.call}`);
  }
}

type SearchOutcome<S> =
  | { kind: 'ok'; steps: number }
  | { kind: 'unknown'; steps: number; reason: string }
  | { kind: 'illegal'; steps: number; longestPrefix: number[]; stateAfterPrefix: S };

/**
 * The call and return events of one partition as a doubly linked list over typed arrays.
 * Event `e < n` is the call of op `e`; event `n + i` is the return of op `i`; index `2n` is the
 * head sentinel; `-1` ends the list.
 *
 * Order: by time; at equal times calls come before returns, so an op that returns at the
 * instant another is invoked counts as concurrent with it (the permissive choice: either order
 * may be linearized). Ties among calls or among returns are broken by op index, for determinism.
 * Unknown-outcome ops return at `Infinity`, after every completed op.
 */
class EventList {
  private readonly n: number;
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;

  constructor(ops: readonly Operation<unknown, unknown>[]) {
    const n = ops.length;
    this.n = n;
    this.head = 2 * n;
    const timeOf = (e: number): number => (e < n ? opAt(ops, e).call : opAt(ops, e - n).return);
    const events = Array.from({ length: 2 * n }, (_, e) => e);
    events.sort((a, b) => {
      const ta = timeOf(a);
      const tb = timeOf(b);
      if (ta !== tb) return ta < tb ? -1 : 1;
      const returnA = a >= n ? 1 : 0;
      const returnB = b >= n ? 1 : 0;
      return returnA !== returnB ? returnA - returnB : a - b;
    });
    this.next = new Int32Array(2 * n + 1).fill(-1);
    this.prev = new Int32Array(2 * n + 1).fill(-1);
    let last = this.head;
    for (const e of events) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
  }

  /** The first event still in the list, or -1. */
  first(): number {
    return at(this.next, this.head);
  }

  /** The event after `e`, or -1. */
  after(e: number): number {
    return at(this.next, e);
  }

  /** Whether `e` is a call event; if so, `e` is also its op's index. */
  isCall(e: number): boolean {
    return e < this.n;
  }

  /** Removes the call and return events of op `op`. */
  lift(op: number): void {
    this.unlink(op);
    this.unlink(op + this.n);
  }

  /** Undoes `lift(op)`; valid only in last-in first-out order, as the search uses it. */
  unlift(op: number): void {
    this.relink(op + this.n);
    this.relink(op);
  }

  private unlink(e: number): void {
    const before = at(this.prev, e);
    const after = at(this.next, e);
    this.next[before] = after;
    if (after !== -1) this.prev[after] = before;
  }

  private relink(e: number): void {
    const before = at(this.prev, e);
    const after = at(this.next, e);
    assert(at(this.next, before) === after, 'unlift out of order');
    this.next[before] = e;
    if (after !== -1) this.prev[after] = e;
  }
}

/** Runs the memoized search on one partition. */
function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budgetSteps: number,
  deadline: number,
): SearchOutcome<S> {
  const n = ops.length;
  const events = new EventList(ops);
  const linearized = new LinearizedSet(n);
  const cache = new SearchCache();
  const stackCall = new Int32Array(n);
  const stackState: S[] = [];
  let state = model.init();
  let depth = 0;
  let longestPrefix: number[] = [];
  let stateAfterLongest = state;
  // Ops with an unknown outcome (return = Infinity) may never take effect, so the search is
  // done once every completed op is linearized; the unknown ones left over are "never".
  let completedLeft = ops.filter((op) => op.return !== Infinity).length;
  let steps = 0;
  let event = events.first();

  while (completedLeft > 0) {
    steps++;
    if (steps > budgetSteps) return { kind: 'unknown', steps, reason: `step budget ${budgetSteps} exhausted` };
    if (steps % CLOCK_CHECK_INTERVAL_STEPS === 0 && performance.now() > deadline) {
      return { kind: 'unknown', steps, reason: 'timed out' };
    }
    assert(event !== -1, 'a completed op is left, so its return event must lie ahead');
    if (events.isCall(event)) {
      const op = opAt(ops, event);
      const stepped = model.step(state, op.input, op.output);
      if (stepped.ok && cache.insert(linearized, event, model.key(stepped.state))) {
        stackCall[depth] = event;
        stackState[depth] = state;
        depth++;
        state = stepped.state;
        linearized.add(event);
        if (op.return !== Infinity) completedLeft--;
        events.lift(event);
        if (depth > longestPrefix.length) {
          longestPrefix = Array.from(stackCall.subarray(0, depth));
          stateAfterLongest = state;
        }
        event = events.first();
      } else {
        event = events.after(event);
      }
    } else {
      // A return: its op must already be linearized. Undo the most recent choice instead.
      if (depth === 0) return { kind: 'illegal', steps, longestPrefix, stateAfterPrefix: stateAfterLongest };
      depth--;
      const call = at(stackCall, depth);
      state = stackState[depth] as S;
      linearized.delete(call);
      if (opAt(ops, call).return !== Infinity) completedLeft++;
      events.unlift(call);
      event = events.after(call);
    }
  }
  assert(depth <= n, 'the search stack holds each op at most once');
  return { kind: 'ok', steps };
}

/**
 * The set of linearized ops, one bit per op, with a running Zobrist hash (two random 32-bit
 * words per op, XOR-ed in and out) so that the hash of "this set plus one op" costs O(1).
 */
class LinearizedSet {
  readonly words: Uint32Array;
  hashA = 0;
  hashB = 0;
  private readonly zobristA: Uint32Array;
  private readonly zobristB: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
    const random = xorshift32(0x9e3779b9);
    this.zobristA = Uint32Array.from({ length: size }, random);
    this.zobristB = Uint32Array.from({ length: size }, random);
  }

  add(op: number): void {
    assert((at(this.words, op >>> 5) & (1 << (op & 31))) === 0, `op ${op} linearized twice`);
    this.toggle(op);
  }

  delete(op: number): void {
    assert((at(this.words, op >>> 5) & (1 << (op & 31))) !== 0, `op ${op} is not linearized`);
    this.toggle(op);
  }

  /** Hash of this set with `op` added, as a string. */
  hashWith(op: number): string {
    return `${(this.hashA ^ at(this.zobristA, op)) >>> 0}.${(this.hashB ^ at(this.zobristB, op)) >>> 0}`;
  }

  private toggle(op: number): void {
    this.words[op >>> 5] = at(this.words, op >>> 5) ^ (1 << (op & 31));
    this.hashA = (this.hashA ^ at(this.zobristA, op)) >>> 0;
    this.hashB = (this.hashB ^ at(this.zobristB, op)) >>> 0;
  }
}

/**
 * Remembers every (linearized set, state) pair the search has entered. Pairs are bucketed by
 * set hash and state key; pairs in one bucket are told apart by comparing the bitsets.
 */
class SearchCache {
  private readonly seen = new Map<string, Uint32Array[]>();
  size = 0;

  /** Records `linearized ∪ {op}` with `stateKey`; returns false if that pair was seen before. */
  insert(linearized: LinearizedSet, op: number, stateKey: string): boolean {
    const key = `${linearized.hashWith(op)}.${stateKey}`;
    const word = op >>> 5;
    const withOp = at(linearized.words, word) | (1 << (op & 31));
    const bucket = this.seen.get(key);
    if (bucket?.some((bits) => sameBitsWith(bits, linearized.words, word, withOp))) return false;
    const copy = linearized.words.slice();
    copy[word] = withOp;
    if (bucket === undefined) this.seen.set(key, [copy]);
    else bucket.push(copy);
    this.size++;
    return true;
  }
}

function sameBitsWith(stored: Uint32Array, words: Uint32Array, word: number, wordValue: number): boolean {
  for (let i = 0; i < words.length; i++) {
    if (at(stored, i) !== (i === word ? wordValue : at(words, i))) return false;
  }
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
  const deadline = remaining.reduce((earliest, i) => Math.min(earliest, opAt(ops, i).return), Infinity);
  const candidates = remaining.filter((i) => opAt(ops, i).call <= deadline).sort((a, b) => opAt(ops, a).call - opAt(ops, b).call);
  const state = outcome.stateAfterPrefix;
  const stateKey = model.key(state);

  const lines = [
    `partition ${partition.label} is not linearizable (${ops.length} ops).`,
    `longest linearizable prefix: ${outcome.longestPrefix.length} of ${ops.length} ops` +
      (outcome.longestPrefix.length > EXPLAIN_PREFIX_OPS_MAX ? `, the last ${EXPLAIN_PREFIX_OPS_MAX}:` : ':'),
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

function at(array: Int32Array | Uint32Array, index: number): number {
  const value = array[index];
  assert(value !== undefined, `index ${index} out of range`);
  return value;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`linearizability checker: ${message}`);
}
