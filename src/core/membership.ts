/**
 * Cluster configurations: how a single-server change turns one into the next (Raft thesis §4.2),
 * and how a configuration is written into a `config` log entry. Decoding never throws: an entry
 * is data from the network until proven otherwise.
 */
import { RaftError } from './errors.js';
import type { ClusterConfig, ConfigChange, MemberId } from './types.js';

/** The change does not make sense for the current configuration. */
export class InvalidConfigChangeError extends RaftError {
  readonly code = 'INVALID_CONFIG_CHANGE';
  constructor(reason: string) {
    super(`invalid configuration change: ${reason}`);
    this.name = 'InvalidConfigChangeError';
  }
}

/** Another change is not yet committed (or the leader has not yet committed in its term). */
export class ConfigChangeInProgressError extends RaftError {
  readonly code = 'CONFIG_CHANGE_IN_PROGRESS';
  constructor(reason: string) {
    super(`configuration change refused for now: ${reason}`);
    this.name = 'ConfigChangeInProgressError';
  }
}

const MEMBERS_MAX = 64;
const ID_LENGTH_MAX = 256;

export function isMember(config: ClusterConfig, id: MemberId): boolean {
  return config.voters.includes(id) || config.learners.includes(id);
}

/** Everyone the leader replicates to. */
export function membersOf(config: ClusterConfig): MemberId[] {
  return [...config.voters, ...config.learners];
}

/** The configuration after `change`, or throws InvalidConfigChangeError. */
export function applyConfigChange(config: ClusterConfig, change: ConfigChange): ClusterConfig {
  const { member } = change;
  if (typeof member !== 'string' || member.length === 0 || member.length > ID_LENGTH_MAX) {
    throw new InvalidConfigChangeError(
      'member id must be a non-empty string of at most 256 characters',
    );
  }
  const voters = config.voters.filter((id) => id !== member);
  const learners = config.learners.filter((id) => id !== member);
  switch (change.type) {
    case 'addLearner':
      if (isMember(config, member))
        throw new InvalidConfigChangeError(`${member} is already a member`);
      if (voters.length + learners.length >= MEMBERS_MAX) {
        throw new InvalidConfigChangeError(`a cluster holds at most ${MEMBERS_MAX} members`);
      }
      return normalize({ voters, learners: [...learners, member] });
    case 'promote':
      if (!config.learners.includes(member))
        throw new InvalidConfigChangeError(`${member} is not a learner`);
      return normalize({ voters: [...voters, member], learners });
    case 'demote':
      if (!config.voters.includes(member))
        throw new InvalidConfigChangeError(`${member} is not a voter`);
      if (voters.length === 0)
        throw new InvalidConfigChangeError('the last voter cannot be demoted');
      return normalize({ voters, learners: [...learners, member] });
    case 'remove':
      if (!isMember(config, member))
        throw new InvalidConfigChangeError(`${member} is not a member`);
      if (config.voters.includes(member) && voters.length === 0) {
        throw new InvalidConfigChangeError('the last voter cannot be removed');
      }
      return normalize({ voters, learners });
    default:
      throw new InvalidConfigChangeError('unknown change type');
  }
}

/** Sorted, so equal configurations encode to equal bytes (bootstrap entries must match). */
export function normalize(config: ClusterConfig): ClusterConfig {
  return { voters: [...config.voters].sort(), learners: [...config.learners].sort() };
}

export function encodeConfig(config: ClusterConfig): Uint8Array {
  const normalized = normalize(config);
  return new TextEncoder().encode(
    JSON.stringify({ voters: normalized.voters, learners: normalized.learners }),
  );
}

/** The configuration in a `config` entry, or null if the bytes are not one. */
export function decodeConfig(data: Uint8Array): ClusterConfig | null {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    return null;
  }
  return isValidConfig(raw) ? normalize(raw) : null;
}

export function isValidConfig(raw: unknown): raw is ClusterConfig {
  if (typeof raw !== 'object' || raw === null) return false;
  const { voters, learners } = raw as Record<string, unknown>;
  if (!isIdList(voters) || !isIdList(learners)) return false;
  const all = [...voters, ...learners];
  return all.length <= MEMBERS_MAX && new Set(all).size === all.length;
}

function isIdList(value: unknown): value is MemberId[] {
  return (
    Array.isArray(value) &&
    value.every((id) => typeof id === 'string' && id.length > 0 && id.length <= ID_LENGTH_MAX)
  );
}

export function sameConfig(a: ClusterConfig, b: ClusterConfig): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return (
    x.voters.length === y.voters.length &&
    x.learners.length === y.learners.length &&
    x.voters.every((id, i) => id === y.voters[i]) &&
    x.learners.every((id, i) => id === y.learners[i])
  );
}
