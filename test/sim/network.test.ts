/**
 * The simulated network: delays, loss, duplication, replay, clogging, partitions and calm mode,
 * each visible in what a member receives and when.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/messages.js';
import { createSeededRandom } from '../../src/core/random.js';
import { SimNetwork } from './network.js';
import type { NetworkOptions } from './options.js';
import { drawPartition, linkKey, PARTITION_MODES } from './partitions.js';
import { VirtualTime } from './virtual-time.js';

const CALM: NetworkOptions = {
  delayMinMs: 1,
  delayMeanMs: 2,
  delayMaxMs: 10,
  lossProbability: 0,
  duplicateProbability: 0,
  replayProbability: 0,
  clogRatePerSecond: 0,
  clogDurationMaxMs: 0,
  partitionModes: [],
  partitionDurationMeanMs: 100,
  healedDurationMeanMs: 100,
  isolateNewLeaderProbability: 0,
  slowFollowerRatePerSecond: 0,
  slowFollowerDurationMinMs: 0,
  slowFollowerDurationMaxMs: 0,
};

function heartbeat(from: string, to: string, readSeq: number): Message {
  return { type: 'heartbeat', from, to, term: 1, commit: 0, readSeq, sentTick: 0 };
}

function setup(options: Partial<NetworkOptions> = {}) {
  const time = new VirtualTime();
  const network = new SimNetwork(time, createSeededRandom(7), { ...CALM, ...options });
  const received: { to: string; seq: number; at: number }[] = [];
  for (const id of ['a', 'b', 'c']) {
    network
      .connect(id)
      .onMessage((m) =>
        received.push({ to: id, seq: m.type === 'heartbeat' ? m.readSeq : -1, at: time.now }),
      );
  }
  const send = (from: string, to: string, seq: number): void =>
    network.send(from, [heartbeat(from, to, seq)]);
  const run = (): void => {
    while (time.nextTime() !== undefined) time.step();
  };
  return { time, network, received, send, run };
}

describe('SimNetwork', () => {
  it('delivers after a delay within [min, max]', () => {
    const { received, send, run } = setup();
    for (let i = 0; i < 50; i++) send('a', 'b', i);
    run();
    expect(received).toHaveLength(50);
    for (const r of received) expect(r.at).toBeGreaterThanOrEqual(1);
    for (const r of received) expect(r.at).toBeLessThanOrEqual(10);
  });

  it('reorders messages through random delays', () => {
    const { received, send, run } = setup({ delayMeanMs: 5 });
    for (let i = 0; i < 50; i++) send('a', 'b', i);
    run();
    const order = received.map((r) => r.seq);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('loses everything at loss probability 1 and duplicates everything at duplication 1', () => {
    const lossy = setup({ lossProbability: 1 });
    lossy.send('a', 'b', 1);
    lossy.run();
    expect(lossy.received).toHaveLength(0);
    expect(lossy.network.stats.lost).toBe(1);
    const doubled = setup({ duplicateProbability: 1 });
    doubled.send('a', 'b', 1);
    doubled.run();
    expect(doubled.received.map((r) => r.seq)).toEqual([1, 1]);
  });

  it('replays old messages', () => {
    const { received, send, run, network } = setup({ replayProbability: 1 });
    for (let i = 0; i < 20; i++) send('a', 'b', i);
    run();
    expect(network.stats.replayed).toBeGreaterThan(0);
    expect(received.length).toBe(20 + network.stats.replayed);
  });

  it('cuts one-way links of a partition and heals', () => {
    const { received, send, run, network } = setup();
    network.setPartition({
      mode: 'oneWay',
      blocked: new Set([linkKey('a', 'b')]),
      description: 'a -/-> b',
    });
    send('a', 'b', 1);
    send('b', 'a', 2);
    run();
    network.setPartition(null);
    send('a', 'b', 3);
    run();
    expect(received.map((r) => `${r.to}${r.seq}`)).toEqual(['a2', 'b3']);
  });

  it("holds a clogged link's messages and releases them together", () => {
    const { received, send, run, network, time } = setup();
    network.clog('a', 'b', 50);
    send('a', 'b', 1);
    time.schedule(20, null, 'control', () => send('a', 'b', 2));
    send('a', 'c', 3);
    run();
    const toB = received.filter((r) => r.to === 'b');
    expect(toB).toHaveLength(2);
    for (const r of toB) expect(r.at).toBeGreaterThanOrEqual(50);
    expect(received.find((r) => r.to === 'c')!.at).toBeLessThan(50);
  });

  it('in calm mode drops, duplicates and cuts nothing', () => {
    const { received, send, run, network } = setup({
      lossProbability: 1,
      duplicateProbability: 1,
      replayProbability: 1,
    });
    network.setPartition({
      mode: 'isolateSingle',
      blocked: new Set([linkKey('a', 'b')]),
      description: '',
    });
    network.setCalm(true);
    for (let i = 0; i < 10; i++) send('a', 'b', i);
    run();
    expect(received).toHaveLength(10);
  });

  it('does not deliver to a closed transport, and refuses a forged sender', () => {
    const time = new VirtualTime();
    const network = new SimNetwork(time, createSeededRandom(1), CALM);
    const b = network.connect('b');
    let count = 0;
    b.onMessage(() => count++);
    network.send('a', [heartbeat('a', 'b', 1)]);
    b.close();
    while (time.nextTime() !== undefined) time.step();
    expect(count).toBe(0);
    expect(network.stats.undeliverable).toBe(1);
    expect(() => network.send('a', [heartbeat('c', 'b', 1)])).toThrow(/sent a message from c/);
  });
});

describe('drawPartition', () => {
  const ids = ['m1', 'm2', 'm3', 'm4', 'm5'];

  it('never cuts a member from itself and always cuts something', () => {
    const random = createSeededRandom(3);
    for (let i = 0; i < 200; i++) {
      const mode = PARTITION_MODES[i % PARTITION_MODES.length]!;
      const partition = drawPartition(random, ids, mode);
      for (const id of ids) expect(partition.blocked.has(linkKey(id, id))).toBe(false);
      if (mode !== 'randomLinks') expect(partition.blocked.size).toBeGreaterThan(0);
    }
  });

  it('a bridge member reaches everyone while the two sides cannot talk', () => {
    const partition = drawPartition(createSeededRandom(11), ids, 'bridge');
    const bridges = ids.filter((id) =>
      ids.every(
        (other) =>
          !partition.blocked.has(linkKey(id, other)) && !partition.blocked.has(linkKey(other, id)),
      ),
    );
    expect(bridges.length).toBeGreaterThanOrEqual(1);
    expect(partition.blocked.size).toBeGreaterThan(0);
  });

  it('isolates exactly one member in isolateSingle mode', () => {
    const partition = drawPartition(createSeededRandom(5), ids, 'isolateSingle');
    expect(partition.blocked.size).toBe(2 * (ids.length - 1));
  });

  it('cuts one direction only in oneWay mode', () => {
    const partition = drawPartition(createSeededRandom(9), ids, 'oneWay');
    for (const key of partition.blocked) {
      const [from, to] = key.split('>') as [string, string];
      expect(partition.blocked.has(linkKey(to, from))).toBe(false);
    }
  });

  it('delays every message to or from an edge member by its WAN hop, and no other', () => {
    const time = new VirtualTime();
    const edge = { ids: new Set(['e']), delayMinMs: 20, delayJitterMeanMs: 1, delayMaxMs: 28 };
    const network = new SimNetwork(time, createSeededRandom(7), CALM, undefined, edge);
    const arrivals = new Map<string, number[]>();
    for (const id of ['a', 'b', 'e'])
      network.connect(id).onMessage((m) => {
        const link = `${m.from}${m.to}`;
        arrivals.set(link, [...(arrivals.get(link) ?? []), time.now]);
      });
    for (const [from, to] of ['ae', 'ea', 'ab'].map((link) => [...link] as [string, string]))
      for (let i = 0; i < 50; i++) network.send(from, [heartbeat(from, to, i)]);
    while (time.nextTime() !== undefined) time.step();
    for (const link of ['ae', 'ea']) {
      expect(arrivals.get(link)).toHaveLength(50);
      for (const at of arrivals.get(link)!) expect(at).toBeGreaterThanOrEqual(20);
      for (const at of arrivals.get(link)!) expect(at).toBeLessThanOrEqual(28);
    }
    for (const at of arrivals.get('ab')!) expect(at).toBeLessThanOrEqual(CALM.delayMaxMs);
  });
});
