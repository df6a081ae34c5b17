/**
 * Builders of encoded KV commands for clients (the client API, the simulator), so they never
 * handle the wire shape themselves. Builders check shapes and throw `InvalidKvCommandError` for a
 * command the state machine would refuse as `BAD_COMMAND`; size limits are left to the state
 * machine (`TOO_LARGE`), or check them first with `findOpLimitViolation`.
 */
import { RaftError } from '../core/errors.js';
import { isJsonValue } from './json.js';
import { encodeKvCommand, findKvCommandShapeViolation } from './kv-codec.js';
import { KV_LIMITS } from './kv-limits.js';
import type { JsonValue, KvCommand, KvOp, KvTxnCheck, KvTxnWrite } from './kv-types.js';
import type { SessionHeader } from './sessions.js';

/** A builder was given something that is not a valid command (e.g. NaN in a value, seq 0). */
export class InvalidKvCommandError extends RaftError {
  readonly code = 'BAD_COMMAND';
  constructor(message: string) {
    super(`invalid KV command: ${message}`);
    this.name = 'InvalidKvCommandError';
  }
}

/** Builders of encoded commands. Each returns the bytes to propose. */
export const kvCommand = Object.freeze({
  /** Opens a session; the result's `session` (= its log index) is the id for later commands. */
  registerSession: (): Uint8Array => encodeChecked({ type: 'registerSession' }),
  /** Refreshes a session's last activity (in log time) so it does not expire while idle. */
  keepAlive: (session: number): Uint8Array => encodeChecked({ type: 'keepAlive', session }),
  /** Closes a session and drops its cached responses. */
  closeSession: (session: number): Uint8Array => encodeChecked({ type: 'closeSession', session }),
  /** Any operation within a session. */
  op: (header: SessionHeader, op: KvOp): Uint8Array => encodeChecked({ type: 'op', header, op }),
  /** Sets `key` to `value`. */
  put: (header: SessionHeader, key: string, value: JsonValue): Uint8Array =>
    kvCommand.op(header, { type: 'put', key, value }),
  /** Removes `key` (succeeds if absent). */
  delete: (header: SessionHeader, key: string): Uint8Array =>
    kvCommand.op(header, { type: 'delete', key }),
  /** Sets `key` to `next` if its value deep-equals `expected` (`null`: if it is absent). */
  cas: (
    header: SessionHeader,
    key: string,
    expected: JsonValue | null,
    next: JsonValue,
  ): Uint8Array => kvCommand.op(header, { type: 'cas', key, expected, next }),
  /** Applies all `writes` if every check of `checks` holds, else none. */
  txn: (
    header: SessionHeader,
    checks: readonly KvTxnCheck[],
    writes: readonly KvTxnWrite[],
  ): Uint8Array => kvCommand.op(header, { type: 'txn', checks, writes }),
});

function encodeChecked(command: KvCommand): Uint8Array {
  if (command.type === 'op') checkValues(command.op);
  // The decoder's checks on the command itself: encoding plain JSON and decoding it gives the
  // same shape back, so the bytes need no second parse.
  const violation = findKvCommandShapeViolation(command);
  if (violation !== null) throw new InvalidKvCommandError(violation);
  return encodeKvCommand(command);
}

/** JSON.stringify would silently change NaN, undefined or a Date; refuse them instead. */
function checkValues(op: KvOp): void {
  const values: unknown[] = [];
  if (op.type === 'put') values.push(op.value);
  if (op.type === 'cas') values.push(op.expected, op.next);
  if (op.type === 'txn') {
    for (const write of op.writes) if (write.type === 'put') values.push(write.value);
  }
  for (const value of values) {
    if (!isJsonValue(value, KV_LIMITS.valueDepthMax)) {
      throw new InvalidKvCommandError(
        `a value is not JSON (finite numbers, plain objects, dense arrays, depth <= ${KV_LIMITS.valueDepthMax})`,
      );
    }
  }
}
