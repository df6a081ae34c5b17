/**
 * Sequential specification of the replicated key-value store, for the linearizability checker.
 *
 * Histories are partitioned by key (linearizability is local, Herlihy & Wing: a history is
 * linearizable iff each key's sub-history is), so the model state is the current value of a
 * single key: a string (values are JSON text) or `null` when absent.
 */
import type { Model, Operation, Partition } from './linearizability.js';

/** A client request to the KV store. `cas` with `expected: null` requires the key to be absent. */
export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | {
      readonly op: 'cas';
      readonly key: string;
      readonly expected: string | null;
      readonly next: string;
    };

/** Response to `get`: the value, or `null` when the key is absent. */
export interface KvGetOutput {
  readonly value: string | null;
}

/** Response to `cas`: whether the swap happened. */
export interface KvCasOutput {
  readonly ok: boolean;
}

/** Response to `put` and `delete`: an acknowledgement that carries no data. */
export type KvAckOutput = Readonly<Record<string, never>>;

/** Any KV response; which one is expected follows from the input's `op`. */
export type KvOutput = KvGetOutput | KvCasOutput | KvAckOutput;

/** A recorded KV operation. */
export type KvOperation = Operation<KvInput, KvOutput>;

/** The value of the one key a partition is about; `null` when absent. */
export type KvState = string | null;

/**
 * The KV model. `get` must return the current value and `cas` must succeed exactly when the
 * current value equals `expected`; `put` and `delete` always succeed. An unknown output
 * (`undefined`) is accepted, and the state still changes as the input dictates.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,

  step(state, input, output) {
    switch (input.op) {
      case 'get':
        return { ok: output === undefined || ('value' in output && output.value === state), state };
      case 'put':
        return { ok: true, state: input.value };
      case 'delete':
        return { ok: true, state: null };
      case 'cas': {
        const swapped = state === input.expected;
        const ok = output === undefined || ('ok' in output && output.ok === swapped);
        return { ok, state: swapped ? input.next : state };
      }
    }
  },

  key: (state) => JSON.stringify(state),

  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      const ops = byKey.get(op.input.key);
      if (ops === undefined) byKey.set(op.input.key, [op]);
      else ops.push(op);
    }
    return [...byKey].map(([key, ops]): Partition<KvInput, KvOutput> => ({
      label: `key ${JSON.stringify(key)}`,
      ops,
    }));
  },

  describe: describeKv,
};

/** Renders a KV operation as e.g. `get("a") -> "v1"` or `cas("a", null => "v2") -> ?`. */
export function describeKv(input: KvInput, output: KvOutput | undefined): string {
  const key = JSON.stringify(input.key);
  const ack = output === undefined ? '?' : 'ok';
  switch (input.op) {
    case 'get':
      return `get(${key}) -> ${shownField(output, 'value')}`;
    case 'put':
      return `put(${key}, ${JSON.stringify(input.value)}) -> ${ack}`;
    case 'delete':
      return `delete(${key}) -> ${ack}`;
    case 'cas':
      return `cas(${key}, ${JSON.stringify(input.expected)} => ${JSON.stringify(input.next)}) -> ${shownField(output, 'ok')}`;
  }
}

function shownField(output: KvOutput | undefined, field: 'value' | 'ok'): string {
  if (output === undefined) return '?';
  if (field === 'value' && 'value' in output) return JSON.stringify(output.value);
  if (field === 'ok' && 'ok' in output) return String(output.ok);
  return `malformed ${JSON.stringify(output)}`;
}
