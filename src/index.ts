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
export {
  TimeoutError,
  ProposalDroppedError,
  MemberStoppedError,
  LeaderChangedError,
} from './runtime/errors.js';
export { realScheduler, wallClock } from './runtime/scheduler.js';
export type { Scheduler } from './runtime/scheduler.js';
export { LocalCluster } from './runtime/local-cluster.js';
export type {
  LocalClusterOptions,
  LocalClusterTimeline,
  KvMember,
} from './runtime/local-cluster.js';
export type * from './runtime/timeline/events.js';
export {
  SHIVIZ_PARSER,
  causalOrder,
  describeEvent,
  readShiViz,
  toShiViz,
} from './runtime/timeline/shiviz.js';
export type { ShiVizEvent } from './runtime/timeline/shiviz.js';
export { CLOCK_ENTRIES_MAX, CLOCK_ID_LENGTH_MAX } from './transport/vector-clock.js';
export { KvSession, KvSessionPool, KvCommandError } from './client/kv-session.js';
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
export { FaultyStorage } from './storage/faulty.js';
export type { StorageFault } from './storage/faulty.js';
export {
  InvalidPersistUpdateError,
  InvalidCompactionError,
  StorageClosedError,
} from './storage/checks.js';
export type { Transport } from './transport/transport.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory.js';
export { encodeFrame, decodeFrame, FrameDecoder, FRAME_BYTES_MAX } from './transport/codec.js';
export type { FrameDropReason } from './transport/codec.js';
export { BroadcastChannelTransport } from './transport/broadcast.js';
export type { BroadcastChannelTransportOptions } from './transport/broadcast.js';
export { FaultyTransport } from './transport/faults.js';
export type { FaultState, FaultyTransportOptions } from './transport/faults.js';
export { MeshTransport } from './transport/webrtc/mesh-transport.js';
export type { MeshTransportOptions, MeshDropReason } from './transport/webrtc/mesh-transport.js';
export { PeerMesh } from './transport/webrtc/peer-mesh.js';
export type {
  MeshSignal,
  MeshSignaling,
  PeerMeshOptions,
  PeerState,
} from './transport/webrtc/peer-mesh.js';
export { meshSignaling } from './transport/webrtc/mesh-signaling.js';
export {
  bridgeDataChannel,
  canTransferDataChannel,
  dataChannelFrames,
  portFrames,
} from './transport/webrtc/frame-channel.js';
export type { FrameChannel } from './transport/webrtc/frame-channel.js';
// The signaling server runs on Node: import it from 'webraft/signaling-server' (no `ws` here).
export { SignalingClient } from './signaling/client.js';
export type { SignalingClientEvents, SignalingClientOptions } from './signaling/client.js';
export {
  SignalingClosedError,
  SignalingRefusedError,
  SignalingTimeoutError,
} from './signaling/errors.js';
export { proveRoomSecret, verifyRoomProof } from './signaling/auth.js';
// The browser API: one member per tab, in a worker (see README "Using webraft in a page").
export { connect } from './client/connect.js';
export type {
  Cluster,
  ClusterKv,
  ClusterStatus,
  ClusterTimeline,
  ConnectOptions,
} from './client/connect.js';
export type { PeerLinkState } from './client/room-session.js';
export { MemberHost } from './client/member-host.js';
export type { HostStartOptions, HostStatus, LogLine } from './client/member-host.js';
