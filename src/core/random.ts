/**
 * Seeded randomness for the core. The core never calls Math.random: it is handed a `Random`, so a
 * seed replays every randomized election timeout exactly.
 */

export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** A uniformly distributed float in [0, 1). */
  float(): number;
}

/** sfc32 seeded through splitmix32: fast, small state, good enough statistics for simulation. */
export function createSeededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    float: () => next() / 4294967296,
    int: (maxExclusive) => {
      if (!(maxExclusive > 0) || !Number.isInteger(maxExclusive)) {
        throw new RangeError(`int(${maxExclusive}): bound must be a positive integer`);
      }
      return Math.floor((next() / 4294967296) * maxExclusive);
    },
  };
}
