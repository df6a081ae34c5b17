/**
 * Typed errors of durable storage that a member surfaces to its application (decision 5,
 * TESTING.md 18-19). The write rules' errors (InvalidPersistUpdateError and friends) are in
 * checks.ts: those are bugs in the caller, these are facts about the medium.
 */
import { RaftError } from '../core/errors.js';

/**
 * Stored data failed verification where it cannot be a torn tail: a bad checksum before the last
 * record, a hole between records, a corrupt hard state or snapshot. Nothing was repaired: starting
 * on such a log could vote or acknowledge as if entries it lost were never there.
 */
export class StorageCorruptError extends RaftError {
  readonly code = 'STORAGE_CORRUPT';
  constructor(
    readonly database: string,
    readonly detail: string,
  ) {
    super(`storage ${database} is corrupt: ${detail}`);
    this.name = 'StorageCorruptError';
  }
}

/**
 * The browser refused a write for lack of space (`QuotaExceededError`). The write did not happen,
 * so it was never acknowledged; the storage accepts no more writes until it is reopened.
 */
export class StorageQuotaError extends RaftError {
  readonly code = 'STORAGE_QUOTA';
  /** @param why who refused the write; a file storage says the disk did (ENOSPC). */
  constructor(
    readonly database: string,
    why = 'the browser refused a write (QuotaExceededError)',
  ) {
    super(`storage ${database} is full: ${why}`);
    this.name = 'StorageQuotaError';
  }
}

/**
 * The database cannot be used: it was closed by the browser (site data cleared, eviction), its
 * open was blocked by another connection, or a write failed for another reason. Writes already
 * acknowledged stay durable; nothing more is accepted until the storage is reopened.
 */
export class StorageUnavailableError extends RaftError {
  readonly code = 'STORAGE_UNAVAILABLE';
  constructor(
    readonly database: string,
    readonly detail: string,
  ) {
    super(`storage ${database} is unavailable: ${detail}`);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * Opening an existing member found no database, or one without its identity: its storage was
 * wiped (site data cleared, eviction, a private window). Its old vote is gone with it, so it must
 * never run again under that id; join as a new member instead (TESTING.md 19).
 */
export class StorageLostError extends RaftError {
  readonly code = 'STORAGE_LOST';
  /** @param why what happened to it, when more is known than that it is missing. */
  constructor(
    readonly memberId: string,
    why?: string,
  ) {
    super(
      `the storage of member ${memberId} is gone${why === undefined ? '' : ` (${why})`}; ` +
        'it must rejoin as a new member',
    );
    this.name = 'StorageLostError';
  }
}

/**
 * A data directory already in use by a live process (its lock file names that process): two
 * members on one log would each vote and acknowledge as if they were the only one.
 */
export class StorageLockedError extends RaftError {
  readonly code = 'STORAGE_LOCKED';
  constructor(
    readonly database: string,
    readonly holder: string,
  ) {
    super(`storage ${database} is in use by ${holder}`);
    this.name = 'StorageLockedError';
  }
}
