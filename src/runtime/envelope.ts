/**
 * The runtime's framing of a normal entry's data: the proposing leader's wall-clock time (log
 * time, for session expiry) followed by the application's command bytes.
 */

const TIME_BYTES = 8;

export function encodeEnvelope(timeMs: number, command: Uint8Array): Uint8Array {
  const out = new Uint8Array(TIME_BYTES + command.length);
  new DataView(out.buffer).setFloat64(0, timeMs, true);
  out.set(command, TIME_BYTES);
  return out;
}

export interface Envelope {
  readonly timeMs: number;
  readonly command: Uint8Array;
}

/** Returns null for data too short to hold an envelope (never throws: entries can be hostile). */
export function decodeEnvelope(data: Uint8Array): Envelope | null {
  if (data.length < TIME_BYTES) return null;
  const timeMs = new DataView(data.buffer, data.byteOffset, TIME_BYTES).getFloat64(0, true);
  if (!Number.isFinite(timeMs)) return null;
  return { timeMs, command: data.subarray(TIME_BYTES) };
}
