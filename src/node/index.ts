/**
 * The Node entry of webraft (`webraft/node`): a member that runs in a Node process, with its log
 * in files. Never imported by the browser bundle (it needs node:fs and a native WebRTC module).
 */
export { defaultDataDir, startNodeMember } from './member.js';
export type { NodeMemberOptions } from './member.js';
export { loadRTCPeerConnection, WebRtcUnavailableError, WEBRTC_PACKAGE } from './webrtc.js';
export { defaultEdgeDataDir, EDGE_PORT_DEFAULT, startNodeEdgeMember } from '../edge/node.js';
export type { NodeEdgeMemberOptions } from '../edge/node.js';
export type { EdgeMember } from '../edge/member.js';
export { FileStorage } from '../storage/file.js';
export type { FileStorageInfo, FileStorageOptions } from '../storage/file.js';
export { StorageLockedError } from '../storage/errors.js';
export type { Cluster, ClusterKv, ClusterStatus } from '../client/connect.js';
