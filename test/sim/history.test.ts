/**
 * Settling a history (TESTING.md 2): an acknowledged write keeps its output; a write of unknown
 * outcome takes the result and time of its first application anywhere, or leaves the history if
 * nobody applied it; a write whose first application was refused never happened.
 */
import { describe, expect, it } from 'vitest';
import { encodeKvCommand } from '../../src/state/kv-codec.js';
import type { KvCommand } from '../../src/state/kv-types.js';
import { KvStateMachine } from '../../src/state/kv.js';
import { ApplyLog } from './apply-log.js';
import { History } from './history.js';

function setup() {
  let now = 0;
  const clock = { set: (t: number) => (now = t) };
  const applyLog = new ApplyLog(
    () => now,
    () => undefined,
  );
  const machine = applyLog.observe('m1', new KvStateMachine());
  let index = 0;
  const apply = (command: KvCommand) =>
    machine.apply(encodeKvCommand(command), { index: ++index, term: 1, time: now });
  const history = new History(() => now);
  return { clock, apply, history, applyLog };
}

const put = (session: number, seq: number, key: string, value: string): KvCommand => ({
  type: 'op',
  header: { session, seq, lowestUnacked: seq },
  op: { type: 'put', key, value },
});

describe('History.settle', () => {
  it("settles an unknown write that was applied with its first application's time and result", () => {
    const { clock, apply, history, applyLog } = setup();
    apply({ type: 'registerSession' });
    clock.set(10);
    const op = history.invoke(1, { op: 'put', key: 'k', value: 'v1' }, 1, 1);
    clock.set(25);
    apply(put(1, 1, 'k', 'v1'));
    clock.set(40);
    apply(put(1, 1, 'k', 'v1')); // a retry: answered from the session cache, applied once
    history.unknown(op);
    const settled = history.settle(applyLog);
    expect(settled.operations).toEqual([
      { clientId: 1, input: op.input, call: 10, return: 25, output: {} },
    ]);
    expect(settled.unknownApplied).toBe(1);
  });

  it('drops an unknown write that nobody applied', () => {
    const { history, applyLog } = setup();
    history.unknown(history.invoke(1, { op: 'put', key: 'k', value: 'v1' }, 1, 1));
    const settled = history.settle(applyLog);
    expect(settled.operations).toEqual([]);
    expect(settled.unknownDropped).toBe(1);
  });

  it('drops an unknown write whose first application was refused (no such session)', () => {
    const { apply, history, applyLog } = setup();
    apply(put(99, 1, 'k', 'v1'));
    history.unknown(history.invoke(1, { op: 'put', key: 'k', value: 'v1' }, 99, 1));
    expect(history.settle(applyLog).operations).toEqual([]);
  });

  it('keeps acknowledged operations, drops failed reads, keeps pending reads out', () => {
    const { clock, apply, history, applyLog } = setup();
    apply({ type: 'registerSession' });
    const write = history.invoke(1, { op: 'put', key: 'k', value: 'v1' }, 1, 1);
    apply(put(1, 1, 'k', 'v1'));
    clock.set(5);
    history.ok(write, {});
    const read = history.invoke(2, { op: 'get', key: 'k' }, null, null);
    history.ok(read, { value: 'v1' });
    history.fail(history.invoke(2, { op: 'get', key: 'k' }, null, null));
    history.invoke(3, { op: 'get', key: 'k' }, null, null);
    const settled = history.settle(applyLog);
    expect(settled.operations.map((o) => o.input.op)).toEqual(['put', 'get']);
    expect(settled.acked).toBe(2);
    expect(settled.mismatches).toEqual([]);
  });

  it('flags an acknowledged write whose output differs from its first application', () => {
    const { apply, history, applyLog } = setup();
    apply({ type: 'registerSession' });
    const cas = history.invoke(1, { op: 'cas', key: 'k', expected: null, next: 'v1' }, 1, 1);
    apply({
      type: 'op',
      header: { session: 1, seq: 1, lowestUnacked: 1 },
      op: { type: 'cas', key: 'k', expected: null, next: 'v1' },
    });
    history.ok(cas, { ok: false });
    expect(history.settle(applyLog).mismatches).toHaveLength(1);
  });
});
