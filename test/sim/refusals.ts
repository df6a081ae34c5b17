/**
 * Why a membership change was refused, as the churn and the autopilot host count it: in
 * progress, invalid, not (or no longer) the leader, or an unknown outcome; null for anything a
 * correct member never answers (a bug to report).
 */
import { RaftError } from '../../src/core/errors.js';

export type RefusalKind = 'inProgress' | 'invalid' | 'notLeader' | 'unknown';

export function refusalKind(error: unknown): RefusalKind | null {
  switch (error instanceof RaftError ? error.code : null) {
    case 'CONFIG_CHANGE_IN_PROGRESS':
      return 'inProgress';
    case 'INVALID_CONFIG_CHANGE':
      return 'invalid';
    case 'NOT_LEADER':
    case 'LEADERSHIP_TRANSFER':
      return 'notLeader';
    case 'TIMEOUT':
    case 'MEMBER_STOPPED':
    case 'PROPOSAL_DROPPED':
      return 'unknown';
    default:
      return null;
  }
}

/** How a failed changeMembership reads in a violation. */
export function describeRefusal(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
