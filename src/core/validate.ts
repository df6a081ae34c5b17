/**
 * Semantic checks on every message before the core looks at it. The wire codec checks shapes;
 * this checks what a shape cannot say (entries consecutive, terms in order, addressed to us), so
 * that nothing a peer sends can throw inside the core. Returns a drop reason, or null if sound.
 */
import { decodeConfig, isValidConfig } from './membership.js';
import type { AppendRequest, Message, SnapshotChunk } from './messages.js';
import type { MemberId } from './types.js';

const CONTEXT_LENGTH_MAX = 256;

const isCount = (value: unknown): boolean =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isId = (value: unknown): boolean =>
  typeof value === 'string' && value.length > 0 && value.length <= 256;

export function validateMessage(message: Message, self: MemberId): string | null {
  if (typeof message !== 'object' || message === null) return 'malformed';
  if (!isId(message.from) || !isId(message.to) || !isCount(message.term))
    return 'malformedEnvelope';
  if (message.to !== self) return 'wrongRecipient';
  if (message.from === self) return 'fromSelf';
  switch (message.type) {
    case 'preVote':
    case 'vote':
      if (!isCount(message.lastIndex) || !isCount(message.lastTerm)) return 'malformedVote';
      if (message.lastTerm > message.term) return 'voteLastTermAhead';
      return message.type === 'vote' && typeof message.transfer !== 'boolean'
        ? 'malformedVote'
        : null;
    case 'preVoteResponse':
    case 'voteResponse':
      return typeof message.reject === 'boolean' ? null : 'malformedVoteResponse';
    case 'append':
      return validateAppend(message);
    case 'appendResponse':
      if (typeof message.reject !== 'boolean') return 'malformedAppendResponse';
      return isCount(message.index) && isCount(message.hintIndex) && isCount(message.hintTerm)
        ? null
        : 'malformedAppendResponse';
    case 'heartbeat':
      return isCount(message.commit) && isCount(message.readSeq) && isCount(message.sentTick)
        ? null
        : 'malformedHeartbeat';
    case 'heartbeatResponse':
      return isCount(message.readSeq) && isCount(message.sentTick)
        ? null
        : 'malformedHeartbeatResponse';
    case 'timeoutNow':
      return null;
    case 'forward':
      return message.data instanceof Uint8Array ? null : 'malformedForward';
    case 'readIndex':
      return isContext(message.context) ? null : 'malformedReadIndex';
    case 'snapshot':
      return validateSnapshotChunk(message);
    case 'snapshotResponse':
      return isCount(message.index) && isCount(message.offset) ? null : 'malformedSnapshotResponse';
    case 'readIndexResponse':
      return isContext(message.context) &&
        typeof message.reject === 'boolean' &&
        isCount(message.index)
        ? null
        : 'malformedReadIndexResponse';
    default:
      return 'unknownType';
  }
}

function isContext(value: unknown): boolean {
  return typeof value === 'string' && value.length <= CONTEXT_LENGTH_MAX;
}

function validateAppend(message: AppendRequest): string | null {
  if (!isCount(message.prevIndex) || !isCount(message.prevTerm) || !isCount(message.commit))
    return 'malformedAppend';
  if (message.prevTerm > message.term) return 'appendPrevTermAhead';
  if (message.prevIndex === 0 && message.prevTerm !== 0) return 'malformedAppend';
  if (!Array.isArray(message.entries)) return 'malformedAppend';
  let previousTerm = message.prevTerm;
  for (let i = 0; i < message.entries.length; i++) {
    const entry = message.entries[i];
    if (typeof entry !== 'object' || entry === null) return 'malformedEntry';
    if (entry.index !== message.prevIndex + i + 1) return 'entriesNotConsecutive';
    if (!isCount(entry.term) || entry.term < previousTerm || entry.term > message.term)
      return 'entryTermOutOfOrder';
    if (!(entry.data instanceof Uint8Array)) return 'malformedEntry';
    if (entry.kind === 'config') {
      if (decodeConfig(entry.data) === null) return 'malformedConfigEntry';
    } else if (entry.kind !== 'normal' && entry.kind !== 'noop') {
      return 'malformedEntry';
    }
    previousTerm = entry.term;
  }
  return null;
}

function validateSnapshotChunk(message: SnapshotChunk): string | null {
  const { meta } = message;
  if (typeof meta !== 'object' || meta === null) return 'malformedSnapshot';
  if (!isCount(meta.index) || !isCount(meta.term) || meta.index === 0 || meta.term === 0)
    return 'malformedSnapshot';
  if (meta.term > message.term || !isValidConfig(meta.config)) return 'malformedSnapshot';
  if (!isCount(message.size) || !isCount(message.offset)) return 'malformedSnapshot';
  if (!(message.data instanceof Uint8Array)) return 'malformedSnapshot';
  if (message.offset + message.data.length > message.size) return 'snapshotChunkPastEnd';
  if (message.data.length === 0 && message.offset < message.size) return 'emptySnapshotChunk';
  return null;
}
