/**
 * A bounded trace of what happened in a run (faults, messages, member states, client operations),
 * kept only when asked for (`--verbose`), to explain a violation. Lines are formatted lazily, so a
 * disabled trace costs one branch per call.
 */
import type { Message } from '../../src/core/messages.js';

/** Lines kept (the most recent ones). */
const TRACE_LINES_MAX = 4000;

/** The run's trace: a ring of the most recent lines. */
export class Trace {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(
    readonly enabled: boolean,
    private readonly now: () => number,
  ) {}

  /** Records `line()` at the current virtual time, if tracing. */
  log(line: () => string): void {
    if (!this.enabled) return;
    const text = `${this.now().toFixed(3).padStart(10)} ${line()}`;
    if (this.lines.length < TRACE_LINES_MAX) this.lines.push(text);
    else this.lines[this.next] = text;
    this.next = (this.next + 1) % TRACE_LINES_MAX;
  }

  /** The kept lines, oldest first, optionally only the last `count`. */
  tail(count = TRACE_LINES_MAX): string[] {
    const ordered =
      this.lines.length < TRACE_LINES_MAX
        ? this.lines
        : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return ordered.slice(Math.max(0, ordered.length - count));
  }
}

/** One-line summary of a Raft message. */
export function describeMessage(message: Message): string {
  const head = `${message.type} ${message.from}->${message.to} t${message.term}`;
  switch (message.type) {
    case 'append':
      return `${head} prev=${message.prevIndex}/${message.prevTerm} n=${message.entries.length}${message.entries.length > 0 ? ` [${message.entries[0]!.index}..${message.entries[message.entries.length - 1]!.index}]` : ''} commit=${message.commit}`;
    case 'appendResponse':
      return `${head} ${message.reject ? 'REJECT' : 'ok'} index=${message.index} hint=${message.hintIndex}/${message.hintTerm}`;
    case 'preVote':
    case 'vote':
      return `${head} last=${message.lastIndex}/${message.lastTerm}`;
    case 'preVoteResponse':
    case 'voteResponse':
      return `${head} ${message.reject ? 'REJECT' : 'GRANT'}`;
    case 'heartbeat':
      return `${head} commit=${message.commit} readSeq=${message.readSeq} tick=${message.sentTick}`;
    case 'heartbeatResponse':
      return `${head} readSeq=${message.readSeq} tick=${message.sentTick}`;
    case 'readIndex':
      return `${head} ctx=${message.context}`;
    case 'readIndexResponse':
      return `${head} ctx=${message.context} ${message.reject ? 'REJECT' : `index=${message.index}`}`;
    case 'timeoutNow':
      return head;
    case 'forward':
      return `${head} bytes=${message.data.length}`;
    case 'snapshot':
      return `${head} snapshot=${message.meta.index}/${message.meta.term} bytes ${message.offset}..${message.offset + message.data.length} of ${message.size}`;
    case 'snapshotResponse':
      return `${head} snapshot=${message.index} offset=${message.offset}`;
  }
}
