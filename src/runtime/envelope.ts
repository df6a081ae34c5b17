/**
 * The runtime's framing of a normal entry's data: the proposing leader's wall-clock time (log
 * time, for session expiry), the proposal's origin when a follower forwarded it (so that follower
 * knows the entry for its own when it applies it), then the application's command bytes.
 *
 *   entry data    = f64 timeMs | u16 originLength | origin (UTF-8) | command
 *   forwarded data =              u16 originLength | origin (UTF-8) | command
 */

const TIME_BYTES = 8;
const ORIGIN_LENGTH_BYTES = 2;
/** Origins are `<memberId>#<sequence>`: member ids are at most 256 characters. */
const ORIGIN_BYTES_MAX = 1024;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export interface Envelope {
  readonly timeMs: number;
  /** Who forwarded it (`<memberId>#<sequence>`), or null for a leader's own proposal. */
  readonly origin: string | null;
  readonly command: Uint8Array;
}

/** What a follower forwards to its leader: the command tagged with its origin. */
export function encodeForwarded(origin: string, command: Uint8Array): Uint8Array {
  const originBytes = utf8.encode(origin);
  if (originBytes.length === 0 || originBytes.length > ORIGIN_BYTES_MAX)
    throw new RangeError(`origin must be 1..${ORIGIN_BYTES_MAX} bytes`);
  const out = new Uint8Array(ORIGIN_LENGTH_BYTES + originBytes.length + command.length);
  new DataView(out.buffer).setUint16(0, originBytes.length, true);
  out.set(originBytes, ORIGIN_LENGTH_BYTES);
  out.set(command, ORIGIN_LENGTH_BYTES + originBytes.length);
  return out;
}

/** The leader's entry data for its own command (`forwarded` null) or a forwarded one. */
export function encodeEnvelope(
  timeMs: number,
  command: Uint8Array,
  forwarded: Uint8Array | null = null,
): Uint8Array {
  // One allocation per entry: this runs for every write the leader takes.
  const bodyLength = forwarded?.length ?? ORIGIN_LENGTH_BYTES + command.length;
  const out = new Uint8Array(TIME_BYTES + bodyLength);
  new DataView(out.buffer).setFloat64(0, timeMs, true);
  if (forwarded !== null) out.set(forwarded, TIME_BYTES);
  else out.set(command, TIME_BYTES + ORIGIN_LENGTH_BYTES); // Origin length 0: already zero.
  return out;
}

/** Returns null for data that is not an envelope (never throws: entries can be hostile). */
export function decodeEnvelope(data: Uint8Array): Envelope | null {
  if (data.length < TIME_BYTES + ORIGIN_LENGTH_BYTES) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const timeMs = view.getFloat64(0, true);
  if (!Number.isFinite(timeMs)) return null;
  const tagged = decodeForwarded(data.subarray(TIME_BYTES));
  return tagged === null ? null : { timeMs, ...tagged };
}

/** The origin and command of forwarded data (origin null when untagged), or null if malformed. */
export function decodeForwarded(
  data: Uint8Array,
): { origin: string | null; command: Uint8Array } | null {
  if (data.length < ORIGIN_LENGTH_BYTES) return null;
  const length = new DataView(data.buffer, data.byteOffset, ORIGIN_LENGTH_BYTES).getUint16(0, true);
  if (length > ORIGIN_BYTES_MAX || ORIGIN_LENGTH_BYTES + length > data.length) return null;
  let origin: string | null = null;
  if (length > 0) {
    try {
      origin = utf8Strict.decode(data.subarray(ORIGIN_LENGTH_BYTES, ORIGIN_LENGTH_BYTES + length));
    } catch {
      return null;
    }
  }
  return { origin, command: data.subarray(ORIGIN_LENGTH_BYTES + length) };
}
