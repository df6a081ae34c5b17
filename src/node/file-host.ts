/**
 * A member's data directory in Node (issue 11), shared by the Node member and the edge member's
 * Node host: the member id it remembers, and a host environment whose storage is the directory's
 * FileStorage.
 */
import { rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { MemberId } from '../core/types.js';
import type { HostEnvironment } from '../client/member-host.js';
import { FileStorage } from '../storage/file.js';
import type { FileStorageOptions } from '../storage/file.js';

/** The data directory a member of `room` uses when none is given. */
export function defaultDataDir(room: string): string {
  return join(homedir(), '.webraft', room);
}

/**
 * The member id `dataDir` holds, or null for a new member. An id in `avoid` (it failed too often
 * to restart as itself, see `supervise`) is never reused: its directory is set aside and null
 * returned, so a new member starts in its place.
 */
export async function dataDirMember(
  dataDir: string,
  avoid: ReadonlySet<MemberId>,
): Promise<MemberId | null> {
  const memberId = await FileStorage.memberIdIn(dataDir);
  if (memberId === null || !avoid.has(memberId)) return memberId;
  await rename(dataDir, `${dataDir}.replaced-${Date.now()}`);
  return null;
}

/** The storage half of a host whose member keeps its log in `dataDir`. */
export function fileStorageOpener(
  dataDir: string,
  storage: FileStorageOptions = {},
): HostEnvironment['openStorage'] {
  return async ({ memberId, existing }) => {
    const files = existing
      ? await FileStorage.open(dataDir, { ...storage, expectedMemberId: memberId })
      : await FileStorage.create(dataDir, memberId, storage);
    return { storage: files, name: dataDir };
  };
}
