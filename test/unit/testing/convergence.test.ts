/**
 * The test cluster's judgments without a browser: which histories the checker receives, and which
 * member views count as converged or as having lost a write.
 */
import { describe, expect, it } from 'vitest';
import { convergenceProblems, settledOnOneState } from '../../../src/testing/convergence.js';
import type { MemberView } from '../../../src/testing/convergence.js';
import { ClientHistory } from '../../../src/testing/history.js';

const view = (id: string, over: Partial<MemberView> = {}): MemberView => ({
  id,
  appliedIndex: 3,
  commitIndex: 3,
  state: '[{"key":"a","value":1}]',
  log: [
    { index: 1, term: 1, summary: 'no-op (new leader)' },
    { index: 2, term: 1, summary: 'put a = 1' },
    { index: 3, term: 1, summary: 'cas a → "x"' },
  ],
  ...over,
});

describe('convergence', () => {
  it('members with one state and one log have converged; every acked write is found', () => {
    const views = [view('m1'), view('m2')];
    expect(settledOnOneState(views)).toBe(true);
    const found = convergenceProblems(views, [
      { op: 'put', key: 'a', value: '1' },
      { op: 'cas', key: 'a', value: '"x"' },
    ]);
    expect(found).toEqual({ problems: [], writesVerified: 4 });
  });

  it('names a member behind, a log that differs, and a write that is gone', () => {
    const behind = view('m2', { appliedIndex: 2 });
    expect(settledOnOneState([view('m1'), behind])).toBe(false);
    const forked = view('m3', {
      log: [
        { index: 1, term: 1, summary: 'no-op (new leader)' },
        { index: 2, term: 2, summary: 'put a = 2' },
      ],
    });
    const { problems } = convergenceProblems(
      [view('m1'), forked],
      [{ op: 'put', key: 'a', value: '1' }],
    );
    expect(problems).toEqual(['logs differ at index 2', 'lost: 1 on m3']);
  });

  it('finds a long value by the cut form the log view shows', () => {
    const long = JSON.stringify('v'.repeat(100));
    const summary = `put k = ${long.slice(0, 59)}…`;
    const member = view('m1', { log: [{ index: 1, term: 1, summary }] });
    expect(convergenceProblems([member], [{ op: 'put', key: 'k', value: long }]).problems).toEqual(
      [],
    );
  });

  it('a compacted log is judged by the state alone', () => {
    const compacted = view('m1', { log: [{ index: 9, term: 2, summary: 'put b = 2' }] });
    expect(
      convergenceProblems([compacted], [{ op: 'put', key: 'a', value: '1' }]).writesVerified,
    ).toBe(0);
  });
});

describe('client history', () => {
  it('a failed read is dropped, a failed or unfinished write is unknown, a return is kept', () => {
    const history = new ClientHistory();
    history.record({
      kind: 'invoke',
      id: '1',
      client: 't1',
      input: { op: 'get', key: 'a' },
      at: 1,
    });
    history.record({ kind: 'fail', id: '1', code: 'TIMEOUT', at: 2 });
    history.record({
      kind: 'invoke',
      id: '2',
      client: 't1',
      input: { op: 'put', key: 'a', value: '1' },
      at: 3,
    });
    history.record({ kind: 'fail', id: '2', code: 'TIMEOUT', at: 4 });
    history.record({
      kind: 'invoke',
      id: '3',
      client: 't2',
      input: { op: 'cas', key: 'a', expected: null, next: '2' },
      at: 5,
    });
    history.record({
      kind: 'invoke',
      id: '4',
      client: 't2',
      input: { op: 'put', key: 'b', value: '3' },
      at: 6,
    });
    history.record({ kind: 'return', id: '4', output: {}, at: 7 });
    expect(history.invoked).toBe(4);
    expect(history.lastAckedWrite).toBe(7);
    expect(history.ackedWrites()).toEqual([{ op: 'put', key: 'b', value: '3' }]);
    const ops = history.operations();
    expect(ops.map((op) => [op.input.op, op.return])).toEqual([
      ['put', Infinity],
      ['cas', Infinity],
      ['put', 7],
    ]);
    expect(new Set(ops.map((op) => op.clientId))).toEqual(new Set([1, 2]));
  });
});
