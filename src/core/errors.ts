/**
 * Typed errors the core raises to its caller (never to the network: a bad message is dropped,
 * never thrown). Every error has a stable `code` so callers across a worker boundary can match it.
 */
import type { MemberId } from './types.js';

export abstract class RaftError extends Error {
  abstract readonly code: string;
}

/** This member cannot take the request; `leaderId` is the leader it knows of, if any. */
export class NotLeaderError extends RaftError {
  readonly code = 'NOT_LEADER';
  constructor(readonly leaderId: MemberId | null) {
    super(
      leaderId === null ? 'not the leader; no leader known' : `not the leader; try ${leaderId}`,
    );
    this.name = 'NotLeaderError';
  }
}

/** The leader refuses new proposals while handing leadership to another member. */
export class LeadershipTransferError extends RaftError {
  readonly code = 'LEADERSHIP_TRANSFER';
  constructor(readonly transferee: MemberId) {
    super(`leadership is being transferred to ${transferee}`);
    this.name = 'LeadershipTransferError';
  }
}

/** The named member is not part of the configuration. */
export class UnknownMemberError extends RaftError {
  readonly code = 'UNKNOWN_MEMBER';
  constructor(readonly memberId: MemberId) {
    super(`${memberId} is not a member of this cluster`);
    this.name = 'UnknownMemberError';
  }
}

/** Back-pressure: too many proposals or reads are waiting; retry later. */
export class OverloadedError extends RaftError {
  readonly code = 'OVERLOADED';
  constructor(what: string, limit: number) {
    super(`${what} limit of ${limit} reached`);
    this.name = 'OverloadedError';
  }
}

/** A broken invariant: a bug in webraft (or corrupted storage), never a user error. */
export class InvariantError extends RaftError {
  readonly code = 'INVARIANT';
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

/** Throws InvariantError unless `condition` holds. Used as in-code assertions (TigerBeetle style). */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

/** An error as status shows it: its stable `code` (the class name for errors without one). */
export function describeError(error: Error): { code: string; message: string } {
  const code = (error as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : error.name, message: error.message };
}
