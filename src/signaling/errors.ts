/**
 * Typed errors of the signaling client. The server's refusals keep the server's stable code, so
 * an application matches `AUTH_FAILED` or `ROOM_FULL` the same way it matches `NOT_LEADER`.
 */
import { RaftError } from '../core/errors.js';
import type { SignalingErrorCode } from './protocol.js';

/** The signaling server refused this client or one of its messages; `code` is the server's. */
export class SignalingRefusedError extends RaftError {
  constructor(
    readonly code: SignalingErrorCode,
    message: string,
  ) {
    super(`signaling server refused: ${code}: ${message}`);
    this.name = 'SignalingRefusedError';
  }
}

/**
 * The connection to the signaling server failed or closed without the server giving a reason
 * (network, server gone, no WebSocket in this runtime, or this client was closed).
 */
export class SignalingClosedError extends RaftError {
  readonly code = 'SIGNALING_CLOSED';
  constructor(
    readonly detail: string,
    readonly closeCode: number | null = null,
  ) {
    super(`signaling connection closed: ${detail}`);
    this.name = 'SignalingClosedError';
  }
}

/** The server did not answer in time: no welcome after connecting, or no reply to pings. */
export class SignalingTimeoutError extends RaftError {
  readonly code = 'SIGNALING_TIMEOUT';
  constructor(what: string, timeoutMs: number) {
    super(`signaling: ${what} within ${timeoutMs} ms`);
    this.name = 'SignalingTimeoutError';
  }
}

/** Any error a SignalingClient reports. */
export type SignalingError = SignalingRefusedError | SignalingClosedError | SignalingTimeoutError;
