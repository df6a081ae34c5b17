/**
 * Bounds of the signaling server ("put a limit on everything", STYLE.md 2): every table, message,
 * rate and wait has an upper bound, and what goes past one is refused with a counted code.
 */
import { PROTOCOL_LIMITS_DEFAULT } from './protocol.js';
import type { ProtocolLimits } from './protocol.js';

export interface SignalingLimits extends ProtocolLimits {
  /** Rooms held at once; a join that would open one more is refused with SERVER_FULL. */
  readonly roomsMax: number;
  /** Members of one room; one more is refused with ROOM_FULL (a replacement does not count). */
  readonly membersPerRoomMax: number;
  /** Open connections, joined or still in their handshake; one more gets SERVER_FULL. */
  readonly connectionsMax: number;
  /** Sustained messages per second per connection (token bucket refill rate). */
  readonly messagesPerSecondMax: number;
  /** Messages a connection may send in a burst (token bucket size). */
  readonly messagesBurstMax: number;
  /** Time from connecting to a finished hello (auth included) before HELLO_TIMEOUT. */
  readonly helloTimeoutMs: number;
  /**
   * Time from the server's start during which it names no bootstrapper, so that the members of
   * clusters that existed before a restart reconnect (and say `hasLog`) before a new tab could
   * start a second cluster in their room (rooms.ts). It must exceed the clients' longest
   * reconnect delay plus a handshake (RoomLink: 5 s). 0 turns the wait off.
   */
  readonly bootstrapGraceMs: number;
}

/** Limits that may be 0; every other one must be at least 1. */
const ZERO_ALLOWED: ReadonlySet<string> = new Set<keyof SignalingLimits>(['bootstrapGraceMs']);

/**
 * Defaults sized for tabs of a few apps on one small server. A tab joining a room of 31 others
 * sends an offer and a handful of trickled ICE candidates to each, hence the generous burst.
 */
export const SIGNALING_LIMITS_DEFAULT: SignalingLimits = Object.freeze({
  ...PROTOCOL_LIMITS_DEFAULT,
  roomsMax: 1_000,
  membersPerRoomMax: 32,
  connectionsMax: 4_096,
  messagesPerSecondMax: 50,
  messagesBurstMax: 200,
  helloTimeoutMs: 10_000,
  bootstrapGraceMs: 8_000,
});

/** The defaults overridden by `overrides`; throws RangeError for a bound that cannot work. */
export function resolveLimits(overrides: Partial<SignalingLimits> = {}): SignalingLimits {
  const limits: SignalingLimits = Object.freeze({ ...SIGNALING_LIMITS_DEFAULT, ...overrides });
  for (const [name, value] of Object.entries(limits)) {
    const least = ZERO_ALLOWED.has(name) ? 0 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`signaling limit ${name} must be an integer >= ${least}, got ${value}`);
    }
  }
  if (limits.signalPayloadBytesMax >= limits.messageBytesMax) {
    throw new RangeError('signalPayloadBytesMax must be below messageBytesMax');
  }
  return limits;
}
