/**
 * A small, synchronous, deterministic string hash for state digests: the simulator compares
 * digests of members to check they applied to identical state. Not cryptographic (crypto.subtle is
 * async and absent in some runtimes); compare the canonical text itself when a collision matters.
 */

/** A 64-bit hash of `text` as 16 lowercase hex digits (two 32-bit lanes, cyrb53-style mixing). */
export function hashText(text: string): string {
  let lane1 = 0xdeadbeef;
  let lane2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    lane1 = Math.imul(lane1 ^ unit, 2654435761);
    lane2 = Math.imul(lane2 ^ unit, 1597334677);
  }
  lane1 =
    Math.imul(lane1 ^ (lane1 >>> 16), 2246822507) ^ Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  lane2 =
    Math.imul(lane2 ^ (lane2 >>> 16), 2246822507) ^ Math.imul(lane1 ^ (lane1 >>> 13), 3266489909);
  lane1 ^= text.length;
  return toHex32(lane2) + toHex32(lane1);
}

function toHex32(lane: number): string {
  return (lane >>> 0).toString(16).padStart(8, '0');
}
