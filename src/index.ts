/**
 * webraft's public API. Until the browser client lands, this is the core, the driver, the KV
 * state machine with sessions, and the memory twins of every effect.
 */
export { RaftNode } from './core/raft.js';
export type { RaftInspection, RaftStartState, RaftStatus } from './core/raft.js';
export { RAFT_DEFAULTS } from './core/config.js';
export type { RaftOptions } from './core/config.js';
export type { Message, MessageType } from './core/messages.js';
export type * from './core/types.js';
export { createSeededRandom } from './core/random.js';
export type { Random } from './core/random.js';
export {
  RaftError,
  NotLeaderError,
  LeadershipTransferError,
  OverloadedError,
  UnknownMemberError,
  InvariantError,
} from './core/errors.js';
export { ConfigChangeInProgressError, InvalidConfigChangeError } from './core/membership.js';
export { Member } from './runtime/member.js';
export type { MemberOptions, MemberStatus, ReadConsistency } from './runtime/member.js';
export { TimeoutError, ProposalDroppedError, MemberStoppedError } from './runtime/errors.js';
export { realScheduler, wallClock } from './runtime/scheduler.js';
export type { Scheduler } from './runtime/scheduler.js';
export { LocalCluster } from './runtime/local-cluster.js';
export type { LocalClusterOptions, KvMember } from './runtime/local-cluster.js';
export { KvSession, KvCommandError } from './client/kv-session.js';
export type { KvSessionOptions } from './client/kv-session.js';
export * from './state/index.js';
export type { Storage, PersistedState, PersistUpdate, StorageInfo } from './storage/storage.js';
export { IndexedDbStorage, requestPersistentStorage } from './storage/indexeddb.js';
export type {
  Durability,
  IndexedDbStorageInfo,
  IndexedDbStorageOptions,
  PersistencePermission,
} from './storage/indexeddb.js';
export {
  StorageCorruptError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from './storage/errors.js';
export { MemoryStorage, MemoryDisk } from './storage/memory.js';
export {
  InvalidPersistUpdateError,
  InvalidCompactionError,
  StorageClosedError,
} from './storage/checks.js';
export type { Transport } from './transport/transport.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory.js';
