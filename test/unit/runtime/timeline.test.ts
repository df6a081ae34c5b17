/**
 * The message timeline (issue 11): off, it costs nothing — no clock on any message, no event;
 * on, every member records a bounded ring with vector clocks, and the rings of a cluster export
 * to a log ShiViz loads with its default parser and accepts (its rules, from js/model/
 * modelGraph.js: each host counts 1, 2, 3 … and every clock is the exact join of its causes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvSession } from '../../../src/client/kv-session.js';
import type { Message } from '../../../src/core/messages.js';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import type { KvMember, LocalClusterOptions } from '../../../src/runtime/local-cluster.js';
import type { TimelineEvent } from '../../../src/runtime/timeline/events.js';
import { TimelineRecorder } from '../../../src/runtime/timeline/recorder.js';
import {
  causalOrder,
  matchingSend,
  readShiViz,
  sendsByKey,
  SHIVIZ_PARSER,
  toShiViz,
} from '../../../src/runtime/timeline/shiviz.js';
import type { ShiVizEvent } from '../../../src/runtime/timeline/shiviz.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/transport.js';
import { CLOCK_ENTRIES_MAX, clockOf, withClock } from '../../../src/transport/vector-clock.js';

import { leaderOf as leaderWithin, sleep } from './cluster-wait.js';

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const leaderOf = (c: LocalCluster, not?: KvMember) => leaderWithin(c, not, 5000);

async function writes(c: LocalCluster, count: number, prefix = 'k'): Promise<void> {
  const session = await KvSession.open({
    submit: (command) => c.submit(command),
    sleep,
    attemptsMax: 200,
  });
  for (let i = 0; i < count; i++) await session.put(`${prefix}${i}`, i);
}

const lessThan = (a: Record<string, number>, b: Record<string, number>) =>
  Object.entries(a).every(([host, count]) => (b[host] ?? 0) >= count) &&
  Object.entries(b).some(([host, count]) => count > (a[host] ?? 0));

/** ShiViz's rules and happened-before on every matched send → receive; returns the pairs. */
function checkShiVizRules(events: readonly ShiVizEvent[]): number {
  const latest = new Map<string, ShiVizEvent>();
  const sends = new Map<string, ShiVizEvent>();
  let pairs = 0;
  for (const event of events) {
    expect(event.clock[event.host], `${event.event}: own entry`).toBeDefined();
    const previous = latest.get(event.host);
    expect(event.clock[event.host], event.event).toBe((previous?.clock[event.host] ?? 0) + 1);
    const id = / \[msg (\S+)\]$/.exec(event.event)?.[1];
    const send = id === undefined ? undefined : sends.get(id);
    if (/^\S+ send /.test(event.event) && id !== undefined) sends.set(id, event);
    const isReceive = /^\S+ receive /.test(event.event);
    if (isReceive && send !== undefined) {
      expect(lessThan(send.clock, event.clock), `${send.event} -> ${event.event}`).toBe(true);
      pairs++;
    }
    // Exact: the join of the previous event on this host and the matched send, plus one.
    const expected: Record<string, number> = { ...previous?.clock };
    if (isReceive && send !== undefined)
      for (const [host, count] of Object.entries(send.clock))
        expected[host] = Math.max(expected[host] ?? 0, count);
    expected[event.host] = (previous?.clock[event.host] ?? 0) + 1;
    expect(event.clock, event.event).toEqual(expected);
    latest.set(event.host, event);
  }
  return pairs;
}

/** A transport that counts what it is handed, and the messages that carry a clock. */
function counting(inner: Transport, counts: { sent: number; clocked: number }): Transport {
  return {
    send(messages: readonly Message[]) {
      counts.sent += messages.length;
      for (const message of messages) if (clockOf(message) !== undefined) counts.clocked++;
      inner.send(messages);
    },
    onMessage: (handler) => inner.onMessage(handler),
    close: () => inner.close(),
  };
}

async function startCounted(options: LocalClusterOptions = {}) {
  const network = new MemoryNetwork();
  const counts = { sent: 0, clocked: 0 };
  cluster = await LocalCluster.start({
    size: 3,
    tickMs: 5,
    transportOf: (id) => counting(network.connect(id), counts),
    ...options,
  });
  return { cluster, counts };
}

describe('the message timeline when off', () => {
  it('is off by default: no message carries a clock and no member records an event', async () => {
    const { cluster, counts } = await startCounted();
    await leaderOf(cluster);
    await writes(cluster, 20);
    expect(counts.sent).toBeGreaterThan(40);
    expect(counts.clocked).toBe(0);
    for (const id of cluster.ids) {
      const { timeline } = cluster.member(id);
      expect(timeline.recording).toBe(false);
      expect(timeline.events()).toEqual([]);
      expect(timeline.stats()).toMatchObject({ events: 0, overwritten: 0 });
    }
  });

  it('turns on and off at run time; stopped, it keeps its events and sends no clock', async () => {
    const { cluster, counts } = await startCounted();
    await leaderOf(cluster);
    cluster.timeline.start();
    await writes(cluster, 5, 'on');
    expect(counts.clocked).toBeGreaterThan(0);
    cluster.timeline.stop();
    const kept = cluster.timeline.events().length;
    const clocked = counts.clocked;
    await writes(cluster, 5, 'off');
    expect(counts.clocked).toBe(clocked);
    expect(cluster.timeline.events().length).toBe(kept);
    const kinds = new Set(cluster.timeline.events().map((event) => event.kind));
    expect([...kinds]).toEqual(
      expect.arrayContaining(['start', 'send', 'receive', 'commit', 'stop']),
    );
  });
});

describe('the message timeline of a LocalCluster', () => {
  it('records on members that start while it is on, from their start', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5 });
    await leaderOf(cluster);
    cluster.timeline.start({ eventsMax: 100 });
    const newcomer = await cluster.join('m4');
    expect(newcomer.timeline.recording).toBe(true);
    expect(newcomer.timeline.events()[0]).toMatchObject({ kind: 'start', member: 'm4' });
    expect((newcomer.timeline.events()[0] as { reason: string }).reason).toContain(
      'member started',
    );
    cluster.timeline.stop();
    expect(cluster.ids.every((id) => !cluster!.member(id).timeline.recording)).toBe(true);
  });
});

describe('the message timeline of a 3-member cluster, in ShiViz', () => {
  it('records an election and writes, across a leader crash, as a log ShiViz accepts', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5, timeline: {} });
    const first = await leaderOf(cluster);
    await writes(cluster, 10, 'a');
    await cluster.crash(first.status().id);
    await leaderOf(cluster, first);
    await writes(cluster, 10, 'b');
    const events = readShiViz(cluster.timeline.exportShiViz());
    expect(new Set(events.map((event) => event.host))).toEqual(new Set(cluster.ids));
    expect(checkShiVizRules(events)).toBeGreaterThan(40);
    const texts = events.map((event) => event.event);
    expect(texts.filter((text) => text.includes('election: candidate')).length).toBeGreaterThan(0);
    expect(texts.filter((text) => text.includes('elected leader')).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(texts.filter((text) => text.includes('commit index')).length).toBeGreaterThan(10);
    expect(texts.some((text) => text.includes('member stopped: crashed'))).toBe(true);
  });

  it('a ring that overwrote its oldest events, and one member alone, still export soundly', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5, timeline: { eventsMax: 40 } });
    await leaderOf(cluster);
    await writes(cluster, 30);
    for (const id of cluster.ids) {
      expect(cluster.member(id).timeline.events().length).toBeLessThanOrEqual(40);
      expect(cluster.member(id).timeline.stats().overwritten).toBeGreaterThan(0);
    }
    checkShiVizRules(readShiViz(cluster.timeline.exportShiViz()));
    const alone = readShiViz(cluster.member('m1').timeline.exportShiViz());
    expect(new Set(alone.map((event) => event.host))).toEqual(new Set(['m1']));
    checkShiVizRules(alone);
  });

  it('leaves heartbeats out unless asked, so elections and commits stay in the ring', async () => {
    cluster = await LocalCluster.start({ size: 3, tickMs: 5, timeline: {} });
    await leaderOf(cluster);
    await sleep(100);
    const heartbeat = (event: TimelineEvent) =>
      (event.kind === 'send' || event.kind === 'receive') && event.type.startsWith('heartbeat');
    expect(cluster.timeline.events().some(heartbeat)).toBe(false);
    cluster.timeline.start({ heartbeats: true });
    await sleep(100);
    expect(cluster.timeline.events().some(heartbeat)).toBe(true);
    checkShiVizRules(readShiViz(cluster.timeline.exportShiViz()));
  });
});

describe('the timeline recorder', () => {
  const vote: Message = {
    type: 'vote',
    from: 'm2',
    to: 'm1',
    term: 2,
    lastIndex: 0,
    lastTerm: 0,
    transfer: false,
  };

  it('merges a peer clock by maximum, then counts its own receive', () => {
    const recorder = new TimelineRecorder('m1', () => 0);
    recorder.received(withClock(vote, { m2: 5, m3: 2 }));
    const [event] = recorder.events();
    expect(event).toMatchObject({ kind: 'receive', from: 'm2', sentAt: 5 });
    expect(event!.clock).toEqual({ m1: 1, m2: 5, m3: 2 });
  });

  it('never takes its own count from a peer', () => {
    const recorder = new TimelineRecorder('m1', () => 0);
    recorder.received(withClock(vote, { m2: 1, m1: Number.MAX_SAFE_INTEGER }));
    expect(recorder.events()[0]!.clock).toEqual({ m1: 1, m2: 1 });
  });

  it('links a receive only to a send that came before it by the clocks', () => {
    const sender = new TimelineRecorder('m2', () => 0);
    sender.record({ kind: 'commit', index: 1 });
    const [sent] = sender.stamp([vote]);
    const receiver = new TimelineRecorder('m1', () => 0);
    receiver.received(sent!);
    const [send] = sender.events().filter((event) => event.kind === 'send');
    const [receive] = receiver.events();
    expect(matchingSend(receive!, sendsByKey([send!]))).toBe(send);
    // The same count from a later life of m2, which knows of m1 events this receive preceded.
    const later = { ...send!, clock: { m2: send!.clock['m2']!, m1: 5 } };
    expect(matchingSend(receive!, sendsByKey([later]))).toBeNull();
  });

  it('bounds its clock: entries past CLOCK_ENTRIES_MAX are refused and counted', () => {
    const recorder = new TimelineRecorder('m1', () => 0);
    const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, 1]));
    recorder.received(withClock(vote, { ...wide, m2: 1 }));
    const [event] = recorder.events();
    expect(Object.keys(event!.clock).length).toBe(CLOCK_ENTRIES_MAX);
    expect(recorder.stats(true).clockEntriesRefused).toBeGreaterThan(0);
  });

  it('keeps at most eventsMax events, newest last', () => {
    const recorder = new TimelineRecorder('m1', () => 0, { eventsMax: 16 });
    for (let i = 1; i <= 100; i++) recorder.record({ kind: 'commit', index: i });
    const events = recorder.events();
    expect(events.map((event) => (event.kind === 'commit' ? event.index : 0))).toEqual(
      Array.from({ length: 16 }, (_, i) => 85 + i),
    );
    expect(recorder.stats(true)).toMatchObject({ events: 16, overwritten: 84 });
    expect(() => new TimelineRecorder('m1', () => 0, { eventsMax: 3 })).toThrow(RangeError);
  });

  it('keeps each event one line with no braces, and hosts free of white space', () => {
    const recorder = new TimelineRecorder('m 1', () => 0);
    recorder.end('failed: {"code":"X"}\nat line 2');
    const [event] = readShiViz(toShiViz(recorder.events()));
    expect(event).toMatchObject({ host: 'm_1', clock: { m_1: 1 } });
    expect(event!.event).not.toMatch(/[{}\n]/);
    expect(() => readShiViz(`${SHIVIZ_PARSER}\n\nan event with no clock line\n`)).toThrow(
      RangeError,
    );
  });

  it('orders the log by wall clock wherever causality allows', () => {
    const a = new TimelineRecorder('a', () => 10);
    const b = new TimelineRecorder('b', () => 5);
    a.record({ kind: 'commit', index: 1 });
    b.record({ kind: 'commit', index: 1 });
    const [sent] = a.stamp([{ ...vote, from: 'a', to: 'b' }]);
    b.received(sent!); // At time 5 by b's clock, yet after the send at 10: causality wins.
    const order = causalOrder([...a.events(), ...b.events()]).map(
      ({ event }) => `${event.member}:${event.kind}`,
    );
    expect(order).toEqual(['b:commit', 'a:commit', 'a:send', 'b:receive']);
  });

  it('exports gathered events that claim a causal cycle without failing', () => {
    const at = (member: string, clock: Record<string, number>) => ({ member, timeMs: 0, clock });
    const cyclic: TimelineEvent[] = [
      {
        ...at('a', { a: 1, b: 2 }),
        kind: 'receive',
        type: 'vote',
        from: 'b',
        term: 1,
        detail: '',
        sentAt: 2,
      },
      // Clocks that go back on a host: each send is within its receive's clock, yet a cycle.
      { ...at('a', { a: 2, b: 0 }), kind: 'send', type: 'vote', to: 'b', term: 1, detail: '' },
      {
        ...at('b', { b: 1, a: 2 }),
        kind: 'receive',
        type: 'vote',
        from: 'a',
        term: 1,
        detail: '',
        sentAt: 2,
      },
      { ...at('b', { b: 2, a: 0 }), kind: 'send', type: 'vote', to: 'a', term: 1, detail: '' },
    ];
    const sends = sendsByKey(cyclic);
    expect(cyclic.filter((event) => matchingSend(event, sends) !== null)).toHaveLength(2);
    const events = readShiViz(toShiViz(cyclic));
    expect(checkShiVizRules(events)).toBe(1); // One link of the cycle dropped, one kept.
    expect(events).toHaveLength(4);
  });
});
