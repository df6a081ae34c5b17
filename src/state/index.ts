/**
 * The state layer's public surface: the StateMachine contract, the replicated KV state machine,
 * its command builders, codec and snapshot format, and the generic client sessions other state
 * machines can reuse.
 */
export type { ApplyContext, StateMachine } from './state-machine.js';
export type * from './kv-types.js';
export { KvStateMachine, KV_DEFAULTS } from './kv.js';
export type { KvStateMachineOptions } from './kv.js';
export { kvCommand, InvalidKvCommandError } from './kv-commands.js';
export { decodeKvCommand, encodeKvCommand, KV_CODEC_VERSION } from './kv-codec.js';
export type { KvDecodeResult } from './kv-codec.js';
export { KV_LIMITS, findOpLimitViolation } from './kv-limits.js';
export {
  decodeKvSnapshot,
  encodeKvSnapshot,
  KV_SNAPSHOT_VERSION,
  SnapshotFormatError,
} from './kv-snapshot.js';
export type { KvSnapshotLimits, KvSnapshotState } from './kv-snapshot.js';
export { SessionTable, SESSION_DEFAULTS, findSessionTableStateViolation } from './sessions.js';
export type {
  SessionAdmission,
  SessionHeader,
  SessionOptions,
  SessionRejectionCode,
  SessionSnapshot,
  SessionTableState,
} from './sessions.js';
export { canonicalJson, jsonEquals, isJsonValue } from './json.js';
export { hashText } from './digest.js';
