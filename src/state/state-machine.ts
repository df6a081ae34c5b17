/**
 * The replicated state machine: it knows nothing about networks or storage (the yjs idea), it only
 * applies committed commands in log order and answers queries on what it has applied.
 */

/** Where an applied command sits in the log, and the log's notion of time. */
export interface ApplyContext {
  readonly index: number;
  readonly term: number;
  /**
   * Milliseconds stamped into the entry by the leader that proposed it. The state machine must
   * only use it through a monotonic max (log time), so every member decides the same.
   */
  readonly time: number;
}

export interface StateMachine<Result, Query, QueryResult> {
  /** Applies one committed command. Must be deterministic and must not throw for bad input. */
  apply(command: Uint8Array, context: ApplyContext): Result;
  /** Answers a read on the applied state. */
  query(query: Query): QueryResult;
  /** The index of the last applied command (including no-ops the driver reported). */
  readonly appliedIndex: number;
  /**
   * Records that an entry with no command for the state machine (a no-op, a configuration) was
   * applied at `index`: it advances the applied index only.
   */
  applyNoop(context: ApplyContext): void;
  /** The whole applied state (data, client sessions, log time) as bytes, at `appliedIndex`. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot taken at `index`; `appliedIndex` becomes `index`. */
  restore(data: Uint8Array, index: number): void;
}
