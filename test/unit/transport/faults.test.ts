/**
 * FaultyTransport: with no faults it is a transport like any other (the conformance suite); with
 * faults it partitions, isolates, loses and delays exactly as asked, and counts what it dropped.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { createSeededRandom } from '../../../src/core/random.js';
import { realScheduler } from '../../../src/runtime/scheduler.js';
import type { Scheduler } from '../../../src/runtime/scheduler.js';
import { FaultyTransport } from '../../../src/transport/faults.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import { appendMessage, runTransportConformance } from './conformance.js';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

function faulty(network: MemoryNetwork, id: string, scheduler: Scheduler = realScheduler) {
  return new FaultyTransport(network.connect(id), { random: createSeededRandom(7), scheduler });
}

runTransportConformance('FaultyTransport without faults', async () => {
  const network = new MemoryNetwork();
  return { connect: (id) => faulty(network, id), settle };
});

/** a, b and c on one network, with what b and c receive. */
function trio() {
  const network = new MemoryNetwork();
  const [a, b, c] = ['a', 'b', 'c'].map((id) => faulty(network, id)) as [
    FaultyTransport,
    FaultyTransport,
    FaultyTransport,
  ];
  const got: Record<string, Message[]> = { a: [], b: [], c: [] };
  a.onMessage((m) => got.a!.push(m));
  b.onMessage((m) => got.b!.push(m));
  c.onMessage((m) => got.c!.push(m));
  return { a, b, c, got };
}

describe('FaultyTransport', () => {
  it('a partition cuts both ways, only between the named peers, until healed', async () => {
    const { a, b, got } = trio();
    a.partition(['b']);
    a.send([appendMessage('a', 'b', 1), appendMessage('a', 'c', 1)]);
    b.send([appendMessage('b', 'a', 1)]);
    await settle();
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([0, 0, 1]);
    expect(a.drops()).toEqual({ partitioned: 2 });
    expect(a.state().partitionedFrom).toEqual(['b']);
    a.heal();
    a.send([appendMessage('a', 'b', 2)]);
    await settle();
    expect(got.b).toHaveLength(1);
  });

  it('isolation cuts everything in and out', async () => {
    const { a, b, got } = trio();
    a.isolate();
    a.send([appendMessage('a', 'b', 1), appendMessage('a', 'c', 1)]);
    b.send([appendMessage('b', 'a', 1)]);
    await settle();
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([0, 0, 0]);
    expect(a.drops()).toEqual({ isolated: 3 });
  });

  it('loses about the asked fraction of messages', async () => {
    const { a, got } = trio();
    a.setLoss(0.3);
    for (let i = 0; i < 1000; i++) a.send([appendMessage('a', 'b', 1)]);
    await settle();
    expect(got.b!.length).toBeGreaterThan(600);
    expect(got.b!.length).toBeLessThan(800);
    expect(a.drops().lost).toBe(1000 - got.b!.length);
    expect(() => a.setLoss(1.5)).toThrow(RangeError);
  });

  it('delays messages by the asked time, and a partition made meanwhile still cuts them', () => {
    const timers: { at: number; run: () => void }[] = [];
    let now = 0;
    const manual: Scheduler = {
      now: () => now,
      setTimeout: (run, delayMs) => timers.push({ at: now + delayMs, run }),
      clearTimeout: () => undefined,
    };
    const network = new MemoryNetwork({ defer: (deliver) => deliver() });
    const a = faulty(network, 'a', manual);
    const b = faulty(network, 'b', manual);
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    a.setDelay(10, 20);
    a.send([appendMessage('a', 'b', 1), appendMessage('a', 'b', 2)]);
    expect(got).toHaveLength(0);
    expect(timers.every((t) => t.at >= 10 && t.at <= 20)).toBe(true);
    a.partition(['b']);
    now = 25;
    for (const timer of timers.splice(0)) timer.run();
    expect(got).toHaveLength(0);
    a.heal();
    a.send([appendMessage('a', 'b', 3)]);
    now = 50;
    for (const timer of timers.splice(0)) timer.run();
    expect(got.map((m) => m.term)).toEqual([3]);
  });
});
