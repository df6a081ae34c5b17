/**
 * FileStorage in a temporary directory: the shared conformance suite, then what only files have —
 * a journal cut at any byte or with a byte flipped, the data directory's identity and lock,
 * journal files rotated and deleted, and a full disk that stops writes without losing any.
 */
import { spawnSync } from 'node:child_process';
import { cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../../../src/core/random.js';
import {
  StorageCorruptError,
  StorageLockedError,
  StorageLostError,
  StorageQuotaError,
  StorageUnavailableError,
} from '../../../src/storage/errors.js';
import { FileStorage } from '../../../src/storage/file.js';
import type { FileStorageOptions } from '../../../src/storage/file.js';
import { entries, snapshot } from './conformance.js';
import { FileStorages, runFileStorageConformance } from './file-conformance.js';
import { plain, summary } from './fixtures.js';

const files = await FileStorages.inTemporaryDirectory();
const freshDirectory = (): string => files.freshDirectory();
const created = (options?: FileStorageOptions): Promise<FileStorage> => files.created(options);
const reopened = (storage: FileStorage, options?: FileStorageOptions): Promise<FileStorage> =>
  files.reopened(storage, options);

runFileStorageConformance(files);

async function journalFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.wal')).sort();
}

/**
 * A closed storage whose journal holds ten batches of three entries each (terms 1..10), and
 * where each batch ends in the journal file.
 */
async function withTenBatches(): Promise<{ directory: string; journal: string; ends: number[] }> {
  const storage = await created({ segmentMergeBytes: 0 });
  const journal = join(storage.directory, (await journalFiles(storage.directory))[0]!);
  const ends: number[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const first = batch * 3 + 1;
    await storage.persist({
      hardState: { term: batch + 1, vote: 'm1', commit: first - 1 },
      snapshot: null,
      entries: entries(first, first + 2, batch + 1),
    });
    ends.push((await stat(journal)).size);
  }
  await storage.close();
  return { directory: storage.directory, journal, ends };
}

/** A copy of `directory` to damage, so one written log serves many cuts. */
async function copyOf(directory: string): Promise<string> {
  const copy = freshDirectory();
  await cp(directory, copy, { recursive: true });
  return copy;
}

describe('FileStorage: torn and corrupt journals', () => {
  it('a journal cut at any byte keeps every whole batch before the cut, and withholds votes', async () => {
    const { directory, journal, ends } = await withTenBatches();
    const random = createSeededRandom(11);
    const cuts = [0, 5, ends[0]!, ends[4]! + 1, ends[9]! - 1];
    while (cuts.length < 30) cuts.push(random.int(ends[9]!));
    for (const cut of cuts) {
      const copy = await copyOf(directory);
      await truncate(join(copy, journal.slice(directory.length + 1)), cut);
      const storage = await FileStorage.open(copy);
      files.track(storage);
      const loaded = await storage.load();
      const wholeBatches = ends.filter((end) => end <= cut).length;
      expect(loaded.entries.length, `cut at ${cut}`).toBe(wholeBatches * 3);
      expect(plain(loaded.entries)).toEqual(
        plain(loaded.entries.map((e) => entries(e.index, e.index, e.term)[0]!)),
      );
      expect(loaded.hardState.term).toBe(wholeBatches);
      const atBoundary = cut === 0 || ends.includes(cut);
      expect(loaded.votesWithheld, `cut at ${cut}`).toBe(!atBoundary);
      // Appending after the cut works, and the repair stays marked across a reopen.
      const next = wholeBatches * 3 + 1;
      await storage.persist({ hardState: null, snapshot: null, entries: entries(next, next, 20) });
      const again = await reopened(storage);
      expect((await again.load()).entries.at(-1)?.index).toBe(next);
      expect(again.info().votesWithheld).toBe(!atBoundary);
    }
  });

  it('releasing votes after a cut is durable', async () => {
    const { directory, journal, ends } = await withTenBatches();
    await truncate(journal, ends[5]! + 7);
    const storage = await FileStorage.open(directory);
    files.track(storage);
    expect(storage.info()).toMatchObject({ votesWithheld: true, repair: { truncatedAfter: 18 } });
    await storage.releaseVotes();
    const again = await reopened(storage);
    expect(again.info()).toMatchObject({ votesWithheld: false, repair: null });
  });

  it('a flipped byte anywhere is a corrupt error or a cut, never a wrong log', async () => {
    const { directory, journal, ends } = await withTenBatches();
    const name = journal.slice(directory.length + 1);
    const random = createSeededRandom(5);
    for (let trial = 0; trial < 30; trial++) {
      const copy = await copyOf(directory);
      const bytes = await readFile(join(copy, name));
      const at = random.int(bytes.length);
      bytes[at] = bytes[at]! ^ (1 + random.int(255));
      await writeFile(join(copy, name), bytes);
      let storage: FileStorage;
      try {
        storage = await FileStorage.open(copy);
      } catch (error) {
        expect(error, `byte ${at}`).toBeInstanceOf(StorageCorruptError);
        continue;
      }
      files.track(storage);
      const loaded = await storage.load();
      // A cut keeps the whole batches before the damaged one, and withholds votes.
      expect(loaded.votesWithheld, `byte ${at}`).toBe(true);
      const damaged = ends.findIndex((end) => end > at);
      expect(loaded.entries.length, `byte ${at}`).toBe(damaged * 3);
    }
  });

  it('a flipped byte in a batch with good batches after it is StorageCorruptError', async () => {
    const { directory, journal, ends } = await withTenBatches();
    const bytes = await readFile(journal);
    const inThirdBatch = ends[1]! + 30;
    bytes[inThirdBatch] = bytes[inThirdBatch]! ^ 0x55;
    await writeFile(journal, bytes);
    const failure = FileStorage.open(directory);
    await expect(failure).rejects.toBeInstanceOf(StorageCorruptError);
    await expect(failure).rejects.toThrow(/a good batch follows/);
  });

  it('a damaged snapshot file is StorageCorruptError', async () => {
    const storage = await created();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 10, 1) });
    await storage.compact(snapshot(8, 1), 8);
    await storage.close();
    const [name] = (await readdir(storage.directory)).filter((n) => n.endsWith('.snap'));
    const path = join(storage.directory, name!);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    await writeFile(path, bytes);
    await expect(FileStorage.open(storage.directory)).rejects.toBeInstanceOf(StorageCorruptError);
  });
});

describe('FileStorage: the data directory', () => {
  it('remembers its member id across reopens', async () => {
    const storage = await created();
    expect(await FileStorage.memberIdIn(storage.directory)).toBe(storage.memberId);
    const again = await reopened(storage);
    expect(again.memberId).toBe(storage.memberId);
    expect(await FileStorage.memberIdIn(freshDirectory())).toBeNull();
  });

  it('refuses a second open while one is open, in this process or another: StorageLockedError', async () => {
    const storage = await created();
    const failure = FileStorage.open(storage.directory);
    await expect(failure).rejects.toBeInstanceOf(StorageLockedError);
    await expect(failure).rejects.toMatchObject({ code: 'STORAGE_LOCKED' });
    await expect(FileStorage.create(storage.directory, 'other')).rejects.toBeInstanceOf(
      StorageLockedError,
    );
    await storage.close();
    files.track(await FileStorage.open(storage.directory));
  });

  it('lets exactly one of two opens at once take the lock', async () => {
    const storage = await created();
    await storage.close();
    for (let round = 0; round < 10; round++) {
      const both = await Promise.allSettled([
        FileStorage.open(storage.directory),
        FileStorage.open(storage.directory),
      ]);
      const winners = both.filter((result) => result.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      const loser = both.find((result) => result.status === 'rejected');
      expect(loser?.reason).toBeInstanceOf(StorageLockedError);
      await winners[0]!.value.close();
    }
  });

  it('takes over a lock file left empty or unreadable (torn while written)', async () => {
    const storage = await created();
    await storage.close();
    await writeFile(join(storage.directory, 'LOCK'), '');
    files.track(await FileStorage.open(storage.directory));
  });

  it('takes over the lock of a process that is gone', async () => {
    const storage = await created();
    await storage.close();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(join(storage.directory, 'LOCK'), `${gone}@${hostname()}`);
    files.track(await FileStorage.open(storage.directory));
  });

  it('refuses to create a member where one exists, and finds a missing one lost', async () => {
    const storage = await created();
    await storage.close();
    await expect(FileStorage.create(storage.directory, 'again')).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    await expect(FileStorage.open(freshDirectory())).rejects.toBeInstanceOf(StorageLostError);
    await expect(
      FileStorage.open(storage.directory, { expectedMemberId: 'someone-else' }),
    ).rejects.toBeInstanceOf(StorageCorruptError);
  });

  it('finds a wiped directory lost: its vote is gone with it', async () => {
    const storage = await created();
    await storage.persist({
      hardState: { term: 3, vote: 'm9', commit: 0 },
      snapshot: null,
      entries: [],
    });
    await storage.close();
    await rm(join(storage.directory, 'identity'));
    await expect(FileStorage.open(storage.directory)).rejects.toBeInstanceOf(StorageLostError);
  });

  it('a full disk rejects that write and every later one, and loses nothing acknowledged', async () => {
    const storage = await created();
    await storage.persist({ hardState: null, snapshot: null, entries: entries(1, 3, 1) });
    // The disk fills up under the open journal file: its next fdatasync fails with ENOSPC.
    type Internals = { writer: { journal: { datasync: () => Promise<void> } } };
    const journal = (storage as unknown as Internals).writer.journal;
    journal.datasync = () =>
      Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    const full = storage.persist({ hardState: null, snapshot: null, entries: entries(4, 4, 1) });
    await expect(full).rejects.toBeInstanceOf(StorageQuotaError);
    await expect(
      storage.persist({ hardState: null, snapshot: null, entries: entries(5, 5, 1) }),
    ).rejects.toBeInstanceOf(StorageQuotaError);
    expect(storage.info().failure?.code).toBe('STORAGE_QUOTA');
    const again = await reopened(storage);
    expect((await again.load()).entries.map((e) => e.index).slice(0, 3)).toEqual([1, 2, 3]);
  });
});

describe('FileStorage: journal files', () => {
  it('rotates journal files and deletes those no live record is in', async () => {
    const storage = await created({ journalFileBytesMax: 1000, segmentMergeBytes: 0 });
    for (let first = 1; first <= 200; first += 10) {
      await storage.persist({
        hardState: { term: 1, vote: 'm1', commit: first + 9 },
        snapshot: null,
        entries: entries(first, first + 9, 1),
      });
    }
    const filesBefore = storage.info().journalFiles;
    expect(filesBefore).toBeGreaterThan(3);
    await storage.compact(snapshot(195, 1), 195);
    // Later files start with the meta records; the files before the oldest live segment go.
    for (let first = 201; first <= 260; first += 10)
      await storage.persist({
        hardState: null,
        snapshot: null,
        entries: entries(first, first + 9, 1),
      });
    const filesAfter = (await journalFiles(storage.directory)).length;
    expect(filesAfter).toBe(storage.info().journalFiles);
    expect(filesAfter).toBeLessThanOrEqual(3);
    const again = await reopened(storage);
    const loaded = await again.load();
    expect(summary(loaded).snapshot).toEqual([195, 1]);
    expect(loaded.hardState).toEqual({ term: 1, vote: 'm1', commit: 200 });
    expect(loaded.entries.map((e) => e.index)).toEqual(entries(196, 260, 1).map((e) => e.index));
  });

  it('group-commits writes issued together, in order', async () => {
    const storage = await created();
    const writes = [];
    for (let index = 1; index <= 500; index++)
      writes.push(
        storage.persist({ hardState: null, snapshot: null, entries: entries(index, index, 1) }),
      );
    await Promise.all(writes);
    const again = await reopened(storage);
    expect((await again.load()).entries.map((e) => e.index)).toEqual(
      entries(1, 500, 1).map((e) => e.index),
    );
  });
});
