/**
 * The simulator's clock and event queue: events run in (time, insertion) order, a paused member's
 * events wait for it, a throttled member's timers fire late, and member clocks run at their rate.
 */
import { describe, expect, it } from 'vitest';
import { TimedHeap } from './heap.js';
import { MemberScheduler, VirtualTime } from './virtual-time.js';

function runAll(time: VirtualTime, untilMs = Infinity): void {
  for (let next = time.nextTime(); next !== undefined && next <= untilMs; next = time.nextTime())
    time.step();
}

describe('TimedHeap', () => {
  it('pops by time, then by sequence number', () => {
    const heap = new TimedHeap<{ time: number; seq: number }>(100);
    const items = [
      { time: 5, seq: 1 },
      { time: 1, seq: 2 },
      { time: 5, seq: 0 },
      { time: 3, seq: 3 },
      { time: 1, seq: 4 },
    ];
    for (const item of items) heap.push(item);
    const popped: string[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop())
      popped.push(`${item.time}/${item.seq}`);
    expect(popped).toEqual(['1/2', '1/4', '3/3', '5/0', '5/1']);
  });

  it('refuses to grow past its limit and refuses non-finite times', () => {
    const heap = new TimedHeap<{ time: number; seq: number }>(1);
    heap.push({ time: 1, seq: 0 });
    expect(() => heap.push({ time: 2, seq: 1 })).toThrow(/full/);
    expect(() => new TimedHeap(1).push({ time: Infinity, seq: 0 })).toThrow(/finite/);
  });
});

describe('VirtualTime', () => {
  it('runs events in time order and advances the clock to each', () => {
    const time = new VirtualTime();
    const seen: string[] = [];
    time.schedule(10, null, 'control', () => seen.push(`b@${time.now}`));
    time.schedule(5, null, 'control', () => seen.push(`a@${time.now}`));
    time.schedule(10, null, 'control', () => seen.push(`c@${time.now}`));
    runAll(time);
    expect(seen).toEqual(['a@5', 'b@10', 'c@10']);
  });

  it('does not run cancelled events', () => {
    const time = new VirtualTime();
    let ran = false;
    time.cancel(time.schedule(1, null, 'control', () => (ran = true)));
    runAll(time);
    expect(ran).toBe(false);
    expect(time.eventsRun).toBe(0);
  });

  it("holds a paused member's events and releases them in order on resume", () => {
    const time = new VirtualTime();
    const seen: string[] = [];
    time.pause('m1');
    time.schedule(1, 'm1', 'message', () => seen.push(`m1 first@${time.now}`));
    time.schedule(2, 'm2', 'message', () => seen.push(`m2@${time.now}`));
    time.schedule(3, 'm1', 'timer', () => seen.push(`m1 second@${time.now}`));
    time.schedule(10, null, 'control', () => time.resume('m1'));
    runAll(time);
    expect(seen).toEqual(['m2@2', 'm1 first@10', 'm1 second@10']);
  });

  it('forgets held events when the member crashes', () => {
    const time = new VirtualTime();
    let ran = false;
    time.pause('m1');
    time.schedule(1, 'm1', 'timer', () => (ran = true));
    time.schedule(2, null, 'control', () => time.dropHeld('m1'));
    runAll(time);
    expect(ran).toBe(false);
    expect(time.isPaused('m1')).toBe(false);
  });

  it("fires a throttled member's timers at the next period boundary, but not its messages", () => {
    const time = new VirtualTime();
    const seen: string[] = [];
    time.throttle('m1', 100);
    time.schedule(15, 'm1', 'timer', () => seen.push(`timer@${time.now}`));
    time.schedule(20, 'm1', 'message', () => seen.push(`message@${time.now}`));
    runAll(time);
    expect(seen).toEqual(['message@20', 'timer@100']);
  });

  it('cancels a timer through a throttle move', () => {
    const time = new VirtualTime();
    let ran = false;
    time.throttle('m1', 100);
    const handle = time.schedule(15, 'm1', 'timer', () => (ran = true));
    runAll(time, 50);
    time.cancel(handle);
    runAll(time);
    expect(ran).toBe(false);
  });
});

describe('MemberScheduler', () => {
  it('reads offset + virtual time × rate and fires timers after delay / rate', () => {
    const time = new VirtualTime();
    const fast = new MemberScheduler(time, 'm1', 1.04, 500);
    let firedAt = -1;
    fast.setTimeout(() => (firedAt = time.now), 104);
    runAll(time);
    expect(firedAt).toBeCloseTo(100, 9);
    expect(fast.now()).toBeCloseTo(500 + 104, 9);
  });

  it('clears a timer', () => {
    const time = new VirtualTime();
    const scheduler = new MemberScheduler(time, 'm1', 1, 0);
    let fired = false;
    scheduler.clearTimeout(scheduler.setTimeout(() => (fired = true), 10));
    runAll(time);
    expect(fired).toBe(false);
  });
});
