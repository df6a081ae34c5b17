/**
 * Errors the driver gives to callers of a member. Each says whether the operation may still have
 * taken effect, because a client that retries must know (decision 8: sessions make it safe).
 */
import { RaftError } from '../core/errors.js';

/** No answer in time. A write may or may not have been applied; retry it in the same session. */
export class TimeoutError extends RaftError {
  readonly code = 'TIMEOUT';
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not complete within ${timeoutMs} ms; its outcome is unknown`);
    this.name = 'TimeoutError';
  }
}

/**
 * A forwarded proposal's leader is no longer the leader, before this member saw the entry
 * applied. It may or may not have been applied (the old leader may have appended it); retry it
 * in the same session, now, rather than wait out a timeout.
 */
export class LeaderChangedError extends RaftError {
  readonly code = 'LEADER_CHANGED';
  constructor(readonly leaderId: string | null) {
    super(
      `the leader changed (now ${leaderId ?? 'none'}) before a forwarded proposal was seen ` +
        'applied; its outcome is unknown',
    );
    this.name = 'LeaderChangedError';
  }
}

/** The proposal was overwritten by another leader's entry: it was definitely not applied. */
export class ProposalDroppedError extends RaftError {
  readonly code = 'PROPOSAL_DROPPED';
  constructor(index: number) {
    super(`the proposal at index ${index} was replaced by another leader's entry`);
    this.name = 'ProposalDroppedError';
  }
}

/** The member has stopped (closed, crashed or failed); its pending operations have unknown outcome. */
export class MemberStoppedError extends RaftError {
  readonly code = 'MEMBER_STOPPED';
  /**
   * @param cause what stopped it when it was a failure, not a request: a typed storage error
   *   (StorageQuotaError, StorageUnavailableError, ...) the application can act on.
   */
  constructor(reason: string, cause?: Error) {
    super(`member stopped: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'MemberStoppedError';
  }
}
