/**
 * Timeline events as a log ShiViz (https://distributedclocks.github.io/shiviz/) loads: one line
 * describing each event, then a line `host {"host": n, "peer": m, …}`, which its default parser
 * `(?<event>.*)\n(?<host>\S*) (?<clock>{.*})` reads.
 *
 * ShiViz refuses a log in which a host's events are not counted 1, 2, 3 … in steps of one, or a
 * clock names an event the log does not hold (js/model/modelGraph.js); it also has a check, not
 * called today, that every clock is exactly the join of its causes. A ring that overwrote its
 * oldest events, or the rings of some members but not all, break the first two. So the export
 * renumbers each host's events and rebuilds every clock, exactly, from the send → receive links
 * the recorded clocks identify; a receive whose send is not in the log shows as a local event.
 */
import type { TimelineEvent } from './events.js';

/** ShiViz's default "log parsing regular expression" (js/shiviz.js, `defaultParser`). */
export const SHIVIZ_PARSER = '(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})';

/** The key of a member's event with own count `count`; a receive names its send by it. */
export function eventKey(member: string, count: number): string {
  return `${member}\u0000${count}`;
}

/** The send event each receive event answers to, among `events` (by their keys). */
export function sendsByKey(events: readonly TimelineEvent[]): Map<string, TimelineEvent> {
  const sends = new Map<string, TimelineEvent>();
  for (const event of events)
    if (event.kind === 'send') sends.set(eventKey(event.member, ownCount(event)), event);
  return sends;
}

/**
 * The send that `receive` answers to, if it is among `sends`: addressed to it, of its type, and
 * before it by the clocks (a send's clock is at most its receive's, entry by entry). The last
 * check keeps a receive from an earlier life of a restarted member, which counted from 1 too,
 * off a send of its new life.
 */
export function matchingSend(
  receive: TimelineEvent,
  sends: ReadonlyMap<string, TimelineEvent>,
): TimelineEvent | null {
  if (receive.kind !== 'receive' || receive.sentAt === null) return null;
  const send = sends.get(eventKey(receive.from, receive.sentAt));
  if (send?.kind !== 'send' || send.to !== receive.member || send.type !== receive.type)
    return null;
  for (const id of Object.keys(send.clock))
    if ((receive.clock[id] ?? 0) < send.clock[id]!) return null;
  return send;
}

export function ownCount(event: TimelineEvent): number {
  return event.clock[event.member] ?? 0;
}

/**
 * A file for ShiViz's "upload a log file": its first line is the parser (ShiViz's default), its
 * second the multiple-execution delimiter (none: one run), then the log. Pasted whole into
 * ShiViz's text box instead, the first two lines match nothing and are skipped. `events` may
 * come from any number of members (merged rings), in any order; duplicates count once.
 */
export function toShiViz(events: readonly TimelineEvent[]): string {
  const lines = [SHIVIZ_PARSER, ''];
  for (const { event, clock } of causalOrder(events)) {
    lines.push(`${clockTime(event.timeMs)} ${oneLine(describeEvent(event))}`);
    lines.push(`${hostName(event.member)} ${JSON.stringify(clock)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One event of a ShiViz log, as ShiViz's parser reads it. */
export interface ShiVizEvent {
  readonly event: string;
  readonly host: string;
  readonly clock: Readonly<Record<string, number>>;
}

/**
 * Reads `file` back as ShiViz's upload does: line 1 the parser (here ShiViz's default), line 2
 * the delimiter (none), the rest the log, read with the parser under ShiViz's flags ("gm"). For
 * tests and tools that check an export; throws a RangeError naming the first line that fails.
 */
export function readShiViz(file: string): ShiVizEvent[] {
  const [parser, delimiter, ...rest] = file.split('\n');
  if (parser !== SHIVIZ_PARSER || delimiter !== '')
    throw new RangeError('lines 1 and 2 are not the default parser and no delimiter');
  const log = rest.join('\n').trim();
  const lines = log.split('\n');
  const events: ShiVizEvent[] = [];
  for (const match of log.matchAll(new RegExp(SHIVIZ_PARSER, 'gm'))) {
    const { event, host, clock } = match.groups as Record<'event' | 'host' | 'clock', string>;
    const line = 3 + 2 * events.length;
    if (event !== lines[2 * events.length]) throw new RangeError(`line ${line} does not parse`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(clock);
    } catch {
      throw new RangeError(`line ${line + 1}: the clock is not JSON`);
    }
    events.push({ event, host, clock: parsed as Record<string, number> });
  }
  if (events.length * 2 !== lines.length)
    throw new RangeError(`line ${3 + 2 * events.length} does not parse`);
  return events;
}

/** One event in words, as the log and the demo show it. */
export function describeEvent(event: TimelineEvent): string {
  switch (event.kind) {
    case 'send':
      return `send ${event.type} to ${event.to}, term ${event.term}${more(event.detail)} [msg ${event.member}:${ownCount(event)}]`;
    case 'receive': {
      const id = event.sentAt === null ? 'no clock' : `msg ${event.from}:${event.sentAt}`;
      return `receive ${event.type} from ${event.from}, term ${event.term}${more(event.detail)} [${id}]`;
    }
    case 'role':
      return describeRole(event.role, event.term, event.leaderId);
    case 'commit':
      return `commit index ${event.index}`;
    case 'snapshot':
      return `snapshot ${event.action} at index ${event.index}`;
    case 'membership':
      return `membership at index ${event.index}: voters ${event.voters.join(',') || 'none'}; learners ${event.learners.join(',') || 'none'}`;
    case 'start':
      return `timeline start (${event.reason})`;
    case 'stop':
      return `timeline stop (${event.reason})`;
  }
}

function describeRole(role: string, term: number, leaderId: string | null): string {
  switch (role) {
    case 'preCandidate':
      return `pre-vote, term ${term}`;
    case 'candidate':
      return `election: candidate for term ${term}`;
    case 'leader':
      return `elected leader for term ${term}`;
    default:
      return `follower in term ${term}, leader ${leaderId ?? 'unknown'}`;
  }
}

interface Node {
  readonly event: TimelineEvent;
  readonly host: string;
  /** The event's place on its host in the log: 1, 2, 3 … */
  readonly position: number;
  readonly previous: Node | null;
  send: Node | null;
  readonly successors: Node[];
  waiting: number;
  clock: Record<string, number> | null;
}

/**
 * Each event (duplicates once) with its exact ShiViz clock, in an order where every event
 * follows its causes: the order the log and the demo's timeline draw in.
 */
export function causalOrder(
  events: readonly TimelineEvent[],
): { event: TimelineEvent; clock: Record<string, number> }[] {
  const nodes = buildNodes(events);
  // Among the events whose causes are placed, the earliest by wall clock goes next: the order
  // reads like time where the clocks agree (tabs of one browser), and is causal where not.
  const ready = new EarliestFirst(nodes.filter((node) => node.waiting === 0));
  const ordered: { event: TimelineEvent; clock: Record<string, number> }[] = [];
  let done = 0;
  while (done < nodes.length) {
    const node = ready.pop() ?? breakCycle(nodes);
    const clock: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const cause of [node.previous, node.send])
      for (const [host, count] of Object.entries(cause?.clock ?? {}))
        clock[host] = Math.max(clock[host] ?? 0, count);
    clock[node.host] = node.position;
    node.clock = clock;
    ordered.push({ event: node.event, clock: { ...clock } });
    done++;
    for (const successor of node.successors)
      if (--successor.waiting === 0 && successor.clock === null) ready.push(successor);
  }
  return ordered;
}

/** A binary heap of nodes, earliest wall-clock time (then own count) on top. */
class EarliestFirst {
  private readonly heap: Node[] = [];

  constructor(nodes: readonly Node[]) {
    for (const node of nodes) this.push(node);
  }

  push(node: Node): void {
    const heap = this.heap;
    heap.push(node);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): Node | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < heap.length && earlier(heap[left]!, heap[first]!)) first = left;
      if (right < heap.length && earlier(heap[right]!, heap[first]!)) first = right;
      if (first === i) return top;
      [heap[i], heap[first]] = [heap[first]!, heap[i]!];
      i = first;
    }
  }
}

function earlier(a: Node, b: Node): boolean {
  const byTime = a.event.timeMs - b.event.timeMs;
  return byTime !== 0 ? byTime < 0 : a.position < b.position;
}

function buildNodes(events: readonly TimelineEvent[]): Node[] {
  const byMember = new Map<string, Map<number, TimelineEvent>>();
  for (const event of events) {
    const own = byMember.get(event.member) ?? new Map<number, TimelineEvent>();
    own.set(ownCount(event), event); // The same event from two gathered copies counts once.
    byMember.set(event.member, own);
  }
  const nodes: Node[] = [];
  const byKey = new Map<string, Node>();
  for (const [member, own] of byMember) {
    let previous: Node | null = null;
    const counts = [...own.keys()].sort((a, b) => a - b);
    for (const [i, count] of counts.entries()) {
      const node: Node = {
        event: own.get(count)!,
        host: hostName(member),
        position: i + 1,
        previous,
        send: null,
        successors: [],
        waiting: previous === null ? 0 : 1,
        clock: null,
      };
      previous?.successors.push(node);
      nodes.push(node);
      byKey.set(eventKey(member, count), node);
      previous = node;
    }
  }
  const sends = sendsByKey(nodes.map((node) => node.event));
  for (const node of nodes) {
    const send = matchingSend(node.event, sends);
    if (send === null) continue;
    const sender = byKey.get(eventKey(send.member, ownCount(send)))!;
    node.send = sender;
    node.waiting++;
    sender.successors.push(node);
  }
  return nodes;
}

/**
 * Recorded clocks never make a cycle, but gathered events are other tabs' word: if they do, the
 * first waiting event of some host waits only for a send that waits on it. Its link is dropped
 * (it shows as a local event) and the order goes on.
 */
function breakCycle(nodes: readonly Node[]): Node {
  const node = nodes.find(
    (candidate) =>
      candidate.clock === null &&
      candidate.send !== null &&
      (candidate.previous === null || candidate.previous.clock !== null),
  );
  if (node === undefined) throw new Error('timeline order: no link to break');
  node.send = null;
  node.waiting--;
  return node;
}

function more(detail: string): string {
  return detail === '' ? '' : `, ${detail}`;
}

/** ShiViz hosts are `\S*`: an id with white space in it would not parse. */
function hostName(member: string): string {
  return member.replace(/\s/g, '_') || '_';
}

/** Event lines are one line each, and a brace at their start would read as a clock. */
function oneLine(text: string): string {
  return text.replace(/[\r\n{}]/g, ' ');
}

function clockTime(timeMs: number): string {
  const date = new Date(timeMs);
  return Number.isNaN(date.getTime()) ? '--:--:--.---' : date.toISOString().slice(11, 23);
}
