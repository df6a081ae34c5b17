/**
 * A binary min-heap ordered by (time, sequence number): the simulator's event queue. Ties in time
 * are broken by insertion order, so a seed always replays events in exactly the same order.
 */

/** Anything the heap can order: a virtual time and a unique, increasing sequence number. */
export interface Timed {
  readonly time: number;
  readonly seq: number;
}

const before = (a: Timed, b: Timed): boolean =>
  a.time < b.time || (a.time === b.time && a.seq < b.seq);

/** Min-heap of `Timed` items; `sizeMax` bounds it (TigerBeetle: a limit on everything). */
export class TimedHeap<T extends Timed> {
  private readonly items: T[] = [];

  constructor(readonly sizeMax: number) {
    if (!(sizeMax >= 1)) throw new RangeError('sizeMax must be positive');
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (!Number.isFinite(item.time)) throw new RangeError(`event time ${item.time} is not finite`);
    if (this.items.length >= this.sizeMax) {
      throw new RangeError(`event queue is full (${this.sizeMax} events)`);
    }
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right]!, items[left]!) ? right : left;
      if (!before(items[child]!, last)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
