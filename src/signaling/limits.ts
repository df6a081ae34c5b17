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
}

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
});

/** The defaults overridden by `overrides`; throws RangeError for a bound that cannot work. */
export function resolveLimits(overrides: Partial<SignalingLimits> = {}): SignalingLimits {
  const limits: SignalingLimits = Object.freeze({ ...SIGNALING_LIMITS_DEFAULT, ...overrides });
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`signaling limit ${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.signalPayloadBytesMax >= limits.messageBytesMax) {
    throw new RangeError('signalPayloadBytesMax must be below messageBytesMax');
  }
  return limits;
}
