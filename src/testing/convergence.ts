/**
 * Whether members agree: one state, one log, and every acknowledged write in each log. Pure, so a
 * browser harness, a Node test and the chaos runner judge convergence the same way.
 */
import { clipSummaryValue } from '../client/log-summary.js';
import type { MemberId } from '../core/types.js';
import type { AckedWrite } from './history.js';

/** What one member shows of itself. */
export interface MemberView {
  readonly id: MemberId;
  readonly appliedIndex: number;
  readonly commitIndex: number;
  /** Its key-value state, in one canonical text (equal text, equal state). */
  readonly state: string;
  /** Its log as the demo summarizes it: `put <key> <JSON value>`, `cas …`, and so on. */
  readonly log: readonly {
    readonly index: number;
    readonly term: number;
    readonly summary: string;
  }[];
}

/** True when every member applied all it knows committed, all at the same index and state. */
export function settledOnOneState(views: readonly MemberView[]): boolean {
  const first = views[0];
  if (first === undefined) return true;
  return views.every(
    (view) =>
      view.appliedIndex === view.commitIndex &&
      view.appliedIndex === first.appliedIndex &&
      view.state === first.state,
  );
}

/**
 * What is wrong with `views`: states that differ, logs that differ at an index, and
 * `ackedWrites` missing from a log that still starts at index 1 (a compacted log is
 * covered by the state comparison). Empty when the members converged.
 */
export function convergenceProblems(
  views: readonly MemberView[],
  ackedWrites: readonly AckedWrite[],
): { problems: string[]; writesVerified: number } {
  const problems: string[] = [];
  if (!settledOnOneState(views)) {
    const shown = views.map((v) => `${v.id} applied ${v.appliedIndex}/${v.commitIndex}`);
    problems.push(`the members hold different states (${shown.join(', ')})`);
  }
  const byIndex = new Map<number, string>();
  for (const view of views) {
    for (const line of view.log) {
      const seen = byIndex.get(line.index);
      const mine = `${line.term} ${line.summary}`;
      if (seen === undefined) byIndex.set(line.index, mine);
      else if (seen !== mine) problems.push(`logs differ at index ${line.index}`);
    }
  }
  let writesVerified = 0;
  for (const view of views) {
    if (view.log[0]?.index !== 1) continue;
    const summaries = new Set(view.log.map((line) => line.summary));
    for (const write of ackedWrites) {
      writesVerified++;
      const value = clipSummaryValue(write.value);
      const summary =
        write.op === 'put' ? `put ${write.key} = ${value}` : `cas ${write.key} → ${value}`;
      if (!summaries.has(summary)) problems.push(`lost: ${write.value} on ${view.id}`);
    }
  }
  return { problems, writesVerified };
}
