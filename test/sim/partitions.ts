/**
 * Network partitions as sets of blocked one-way links (TESTING.md 8): symmetric splits, one-way
 * (asymmetric) splits, a single member isolated, a "bridge" (A sees B, B sees C, A does not see
 * C) and random link cuts. Pure functions of a seeded Random, so a seed redraws the same cuts.
 */
import type { Random } from '../../src/core/random.js';
import type { MemberId } from '../../src/core/types.js';

export type PartitionMode = 'symmetric' | 'oneWay' | 'isolateSingle' | 'bridge' | 'randomLinks';

/** Every partition mode, in a fixed order (seeds draw from it). */
export const PARTITION_MODES: readonly PartitionMode[] = [
  'symmetric',
  'oneWay',
  'isolateSingle',
  'bridge',
  'randomLinks',
];

/** A partition: which one-way links are cut, and a short description for traces. */
export interface Partition {
  readonly mode: PartitionMode;
  readonly blocked: ReadonlySet<string>;
  readonly description: string;
}

/** The key of the one-way link from `from` to `to`. */
export function linkKey(from: MemberId, to: MemberId): string {
  return `${from}>${to}`;
}

/** Draws a partition of `ids` in `mode`. */
export function drawPartition(
  random: Random,
  ids: readonly MemberId[],
  mode: PartitionMode,
): Partition {
  if (ids.length < 2) throw new RangeError('a partition needs at least two members');
  const shuffled = shuffle(random, ids);
  switch (mode) {
    case 'symmetric': {
      const [a, b] = split(random, shuffled);
      return cut(mode, a, b, true, `${fmt(a)} | ${fmt(b)}`);
    }
    case 'oneWay': {
      const [a, b] = split(random, shuffled);
      return cut(mode, a, b, false, `${fmt(a)} -/-> ${fmt(b)}`);
    }
    case 'isolateSingle': {
      const [alone, ...rest] = shuffled;
      return cut(mode, [alone!], rest, true, `${alone} isolated`);
    }
    case 'bridge':
      return drawBridge(random, shuffled);
    case 'randomLinks':
      return drawRandomLinks(random, ids);
  }
}

/** The bridge member sees everyone; the others are split into two sides that cannot talk. */
function drawBridge(random: Random, shuffled: readonly MemberId[]): Partition {
  const [bridge, ...rest] = shuffled;
  if (rest.length < 2)
    return cut('bridge', [shuffled[0]!], [shuffled[1]!], true, 'two members cut');
  const [a, b] = split(random, rest);
  const partition = cut('bridge', a, b, true, '');
  return { ...partition, description: `${fmt(a)} | ${fmt(b)}, bridged by ${bridge}` };
}

function drawRandomLinks(random: Random, ids: readonly MemberId[]): Partition {
  const blocked = new Set<string>();
  for (const from of ids) {
    for (const to of ids) {
      if (from >= to) continue;
      const roll = random.float();
      if (roll < 0.3) {
        blocked.add(linkKey(from, to));
        blocked.add(linkKey(to, from));
      } else if (roll < 0.4) {
        blocked.add(random.int(2) === 0 ? linkKey(from, to) : linkKey(to, from));
      }
    }
  }
  return { mode: 'randomLinks', blocked, description: `cut ${[...blocked].sort().join(' ')}` };
}

function cut(
  mode: PartitionMode,
  a: readonly MemberId[],
  b: readonly MemberId[],
  bothWays: boolean,
  description: string,
): Partition {
  const blocked = new Set<string>();
  for (const x of a) {
    for (const y of b) {
      blocked.add(linkKey(x, y));
      if (bothWays) blocked.add(linkKey(y, x));
    }
  }
  return { mode, blocked, description };
}

/** Splits into two non-empty groups of a uniformly drawn size. */
function split(random: Random, shuffled: readonly MemberId[]): [MemberId[], MemberId[]] {
  const size = 1 + random.int(shuffled.length - 1);
  return [shuffled.slice(0, size), shuffled.slice(size)];
}

/** Fisher–Yates on a copy. */
export function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const fmt = (ids: readonly MemberId[]): string => `{${ids.join(',')}}`;
