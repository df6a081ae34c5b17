/**
 * What the file storage needs of the file system (Node only): files replaced atomically (write a
 * temporary file, fsync it, rename it over, fsync the directory, so a crash leaves the old file or
 * the new one, never a mix), the directory fsynced after files come and go, a lock file so two
 * processes never open one data directory, and Node's error codes as the storage's typed errors.
 */
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StorageLockedError, StorageQuotaError, StorageUnavailableError } from './errors.js';

/** Opens `path` with `flags`, runs `use` on it, and closes it whatever happens. */
async function withFile(
  path: string,
  flags: string,
  use: (handle: FileHandle) => Promise<void>,
): Promise<void> {
  const handle = await open(path, flags);
  try {
    await use(handle);
  } finally {
    await handle.close();
  }
}

/** Makes the directory's entries (files created, renamed, deleted) durable. */
export async function fsyncDirectory(directory: string): Promise<void> {
  await withFile(directory, 'r', (handle) => handle.sync());
}

/** Cuts `path` to `length` bytes, durably (a torn tail goes before anything follows it). */
export async function truncateDurably(path: string, length: number): Promise<void> {
  await withFile(path, 'r+', async (handle) => {
    await handle.truncate(length);
    await handle.sync();
  });
}

/** Replaces `directory/name` with `bytes` atomically and durably. */
export async function writeFileAtomically(
  directory: string,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const temporary = join(directory, `${name}.tmp`);
  await withFile(temporary, 'w', async (handle) => {
    await handle.writeFile(bytes);
    await handle.sync();
  });
  await rename(temporary, join(directory, name));
  await fsyncDirectory(directory);
}

const LOCK_FILE = 'LOCK';

/**
 * Takes the data directory's lock: a file naming this process (pid@host), which exists only while
 * a process holds it. A lock left by a process that is gone (a crash, a kill -9) is taken over;
 * one held by a live process, or by another host (a shared file system, where liveness cannot be
 * checked), is refused with StorageLockedError. Returns the release.
 *
 * The lock file is linked into place already written (a hard link fails if the name exists), so
 * nobody ever reads a lock that does not yet name its holder and takes it for a torn one.
 */
export async function lockDirectory(directory: string): Promise<() => Promise<void>> {
  const path = join(directory, LOCK_FILE);
  const self = `${process.pid}@${hostname()}`;
  const mine = join(directory, `${LOCK_FILE}.${process.pid}.${randomHex()}.lock-tmp`);
  await withFile(mine, 'w', async (handle) => {
    await handle.writeFile(self);
    await handle.sync();
  }).catch((error: unknown) => {
    throw fileSystemError(directory, error);
  });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, path);
        await fsyncDirectory(directory);
        return async () => {
          await unlink(path).catch(() => undefined);
        };
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw fileSystemError(directory, error);
      }
      const holder = await readFile(path, 'utf8').catch(() => null);
      if (holder === null) continue; // Released in between.
      if (holderIsAlive(holder)) throw new StorageLockedError(directory, `process ${holder}`);
      await moveStaleLock(directory, holder);
    }
    throw new StorageLockedError(directory, 'other processes that keep taking the lock');
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/**
 * Moves the stale lock `stale` out of the way. Another process may have taken it over since it
 * was read: what was moved is then that process's lock, and it goes back.
 */
async function moveStaleLock(directory: string, stale: string): Promise<void> {
  const path = join(directory, LOCK_FILE);
  const moved = join(directory, `${LOCK_FILE}.${process.pid}.${randomHex()}.stale`);
  try {
    await rename(path, moved);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return; // Someone else moved it first.
    throw fileSystemError(directory, error);
  }
  if ((await readFile(moved, 'utf8').catch(() => stale)) !== stale) {
    await link(moved, path).catch(() => undefined);
  }
  await unlink(moved).catch(() => undefined);
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function holderIsAlive(holder: string): boolean {
  const [pid, host] = holder.split('@');
  const id = Number(pid);
  if (!Number.isSafeInteger(id) || id <= 0) return false; // Torn while written: nobody holds it.
  if (host !== hostname()) return true;
  try {
    process.kill(id, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM'; // Alive, but another user's.
  }
}

/** Node's error code (ENOENT, ENOSPC, ...), if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A failed file operation as one of the storage's typed errors. */
export function fileSystemError(directory: string, error: unknown): Error {
  if (error instanceof StorageQuotaError || error instanceof StorageUnavailableError) return error;
  if (error instanceof StorageLockedError) return error;
  const code = errorCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new StorageQuotaError(directory, `the disk refused a write (${code})`);
  const message = error instanceof Error ? error.message : String(error);
  return new StorageUnavailableError(directory, message);
}
