/**
 * Test helper: plays the driver for one KV state machine, applying commands at consecutive log
 * indexes with a chosen leader timestamp, and builds session headers.
 */
import { expect } from 'vitest';
import { KvStateMachine, kvCommand } from '../../../src/state/index.js';
import type { KvResult, KvStateMachineOptions, SessionHeader } from '../../../src/state/index.js';

export class LogFeeder {
  readonly machine: KvStateMachine;
  private index = 0;
  /** The leader timestamp stamped on the next entries, unless one is passed. */
  timeMs = 0;

  constructor(options: KvStateMachineOptions = {}) {
    this.machine = new KvStateMachine(options);
  }

  /** Applies `command` at the next index. */
  apply(command: Uint8Array, timeMs: number = this.timeMs): KvResult {
    this.index++;
    return this.machine.apply(command, { index: this.index, term: 1, time: timeMs });
  }

  /** Applies a no-op entry at the next index. */
  noop(timeMs: number = this.timeMs): void {
    this.index++;
    this.machine.applyNoop({ index: this.index, term: 1, time: timeMs });
  }

  /** Restores the machine from `snapshot` taken at `index`; later entries continue after it. */
  restore(snapshot: Uint8Array, index: number): void {
    this.machine.restore(snapshot, index);
    this.index = index;
  }

  /** The index of the last entry fed. */
  get lastIndex(): number {
    return this.index;
  }

  /** Opens a session and returns its id. */
  register(timeMs: number = this.timeMs): number {
    const result = this.apply(kvCommand.registerSession(), timeMs);
    expect(result.type).toBe('registerSession');
    if (result.type !== 'registerSession') throw new Error('registerSession failed');
    return result.session;
  }
}

/** A session header; `lowestUnacked` defaults to `seq` (every earlier response received). */
export function header(session: number, seq: number, lowestUnacked: number = seq): SessionHeader {
  return { session, seq, lowestUnacked };
}
