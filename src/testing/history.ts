/**
 * Client operations as the test process heard of them, for the linearizability checker
 * (src/check). An operation is recorded when it is invoked — before the cluster hears of it, so a
 * tab that dies cannot hide a write — and again when it returns or fails. Values are JSON text, so
 * any JSON value a client writes compares exactly.
 */
import type { KvInput, KvOperation, KvOutput } from '../check/kv-model.js';

/** One step of one client operation. `at` is in milliseconds on one clock for every client. */
export type ClientEvent =
  | {
      readonly kind: 'invoke';
      readonly id: string;
      /** Who issued it (a tab's label, say): for explanations only. */
      readonly client: string;
      readonly input: KvInput;
      readonly at: number;
    }
  | { readonly kind: 'return'; readonly id: string; readonly output: KvOutput; readonly at: number }
  | { readonly kind: 'fail'; readonly id: string; readonly code: string; readonly at: number };

/** A write the cluster acknowledged: it must be in every member's log. */
export interface AckedWrite {
  readonly op: 'put' | 'cas';
  readonly key: string;
  /** JSON text. */
  readonly value: string;
}

type Invoke = Extract<ClientEvent, { kind: 'invoke' }>;
type Ending = Exclude<ClientEvent, { kind: 'invoke' }>;

export class ClientHistory {
  private readonly invokes = new Map<string, Invoke>();
  private readonly endings = new Map<string, Ending>();
  private readonly clientIds = new Map<string, number>();
  private lastAckedWriteAt = -Infinity;

  /** Operations invoked so far. */
  get invoked(): number {
    return this.invokes.size;
  }

  record(event: ClientEvent): void {
    if (event.kind === 'invoke') {
      this.invokes.set(event.id, event);
      return;
    }
    this.endings.set(event.id, event);
    const input = this.invokes.get(event.id)?.input;
    if (event.kind === 'return' && input !== undefined && input.op !== 'get')
      this.lastAckedWriteAt = Math.max(this.lastAckedWriteAt, event.at);
  }

  /** When the newest acknowledged write returned (-Infinity before the first). */
  get lastAckedWrite(): number {
    return this.lastAckedWriteAt;
  }

  /** Acknowledged writes (puts, successful swaps), each with the JSON text it wrote. */
  ackedWrites(): AckedWrite[] {
    const writes: AckedWrite[] = [];
    for (const [id, ending] of this.endings) {
      const input = this.invokes.get(id)?.input;
      if (ending.kind !== 'return' || input === undefined) continue;
      if (input.op === 'put') writes.push({ op: 'put', key: input.key, value: input.value });
      if (input.op === 'cas' && (ending.output as { ok: boolean }).ok)
        writes.push({ op: 'cas', key: input.key, value: input.next });
    }
    return writes;
  }

  /**
   * The history for the checker. A read that failed had no effect and is left out; a write that
   * failed, or has not returned (its tab died), may have taken effect: its outcome is unknown.
   */
  operations(): KvOperation[] {
    const ops: KvOperation[] = [];
    for (const [id, invoke] of this.invokes) {
      const ending = this.endings.get(id);
      const clientId = this.clientId(invoke.client);
      if (ending?.kind === 'return') {
        ops.push({
          clientId,
          input: invoke.input,
          call: invoke.at,
          return: ending.at,
          output: ending.output,
        });
      } else if (invoke.input.op !== 'get') {
        ops.push({
          clientId,
          input: invoke.input,
          call: invoke.at,
          return: Infinity,
          output: undefined,
        });
      }
    }
    return ops;
  }

  private clientId(name: string): number {
    let id = this.clientIds.get(name);
    if (id === undefined) {
      id = this.clientIds.size + 1;
      this.clientIds.set(name, id);
    }
    return id;
  }
}
