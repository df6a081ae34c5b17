/**
 * FileStorage under the shared conformance suite, in a temporary directory: registered by
 * file.test.ts under vitest in Node, and by the Deno run (test/deno/file-storage.deno.ts) with
 * the same options, so both runtimes pass the same tests on the same code.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { FileStorage } from '../../../src/storage/file.js';
import type { FileStorageOptions } from '../../../src/storage/file.js';
import { runStorageConformance } from './conformance.js';

/** Storages made in a fresh temporary directory, closed after each test, removed after all. */
export class FileStorages {
  private directories = 0;
  private readonly opened: FileStorage[] = [];

  private constructor(private readonly root: string) {
    afterEach(async () => {
      for (const storage of this.opened.splice(0)) await storage.close();
    });
    afterAll(async () => rm(root, { recursive: true, force: true }));
  }

  static async inTemporaryDirectory(): Promise<FileStorages> {
    return new FileStorages(await mkdtemp(join(tmpdir(), 'webraft-file-storage-')));
  }

  freshDirectory(): string {
    return join(this.root, `member-${++this.directories}`);
  }

  async created(options: FileStorageOptions = {}): Promise<FileStorage> {
    const storage = await FileStorage.create(
      this.freshDirectory(),
      `m${this.directories}`,
      options,
    );
    this.opened.push(storage);
    return storage;
  }

  async reopened(storage: FileStorage, options: FileStorageOptions = {}): Promise<FileStorage> {
    await storage.close();
    const next = await FileStorage.open(storage.directory, options);
    this.opened.push(next);
    return next;
  }

  /** Closed after the test (for storages a test opens itself). */
  track(storage: FileStorage): FileStorage {
    this.opened.push(storage);
    return storage;
  }
}

/** Options that make every record, chunk and journal file tiny, so every boundary is crossed. */
export const TINY_FILE_OPTIONS: FileStorageOptions = {
  segmentMergeBytes: 40,
  segmentBytesMax: 60,
  snapshotChunkBytes: 3,
  journalFileBytesMax: 300,
};

/** Registers the conformance suite for FileStorage with default and with tiny options. */
export function runFileStorageConformance(files: FileStorages): void {
  runStorageConformance('FileStorage', async () => {
    const storage = await files.created();
    return { storage, reopen: async () => files.reopened(storage) };
  });
  runStorageConformance('FileStorage (tiny segments, chunks and journal files)', async () => {
    const storage = await files.created(TINY_FILE_OPTIONS);
    return { storage, reopen: async () => files.reopened(storage, TINY_FILE_OPTIONS) };
  });
}
