/**
 * What a file storage (file.ts) finds when it opens its data directory: the journal replayed
 * (file-journal.ts), a torn tail cut off the last journal file, every record verified by the
 * recovery the IndexedDB storage uses (recovery.ts), and files no record names deleted.
 *
 * A bad batch at the end of the last journal file is a torn tail: an append that a crash
 * interrupted, never acknowledged. It is cut, and the member withholds its vote until it caught
 * up, as with a torn IndexedDB segment. A bad batch with a good one after it, or in a journal file
 * that was complete (a later one exists), is a StorageCorruptError: never skipped.
 */
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageCorruptError } from './errors.js';
import { decodeSealedRecords, JournalMirror, readJournal } from './file-journal.js';
import { truncateDurably } from './file-system.js';
import type { MetaName } from './records.js';
import { persistedStateOf, recover } from './recovery.js';
import type { RecoveryReport } from './recovery.js';
import { SegmentLayout } from './segment-layout.js';
import type { LayoutLimits } from './segment-layout.js';
import type { PersistedState } from './storage.js';

/** The files of a data directory besides `identity` and `LOCK`. */
export const JOURNAL_PATTERN = /^journal-(\d{10})\.wal$/;
export const SNAPSHOT_PATTERN = /^snapshot-(\d{16})\.snap$/;
export const journalName = (file: number): string =>
  `journal-${String(file).padStart(10, '0')}.wal`;
export const snapshotName = (index: number): string =>
  `snapshot-${String(index).padStart(16, '0')}.snap`;

/** What reading the directory found. */
export interface DiskState {
  readonly state: PersistedState;
  readonly layout: SegmentLayout;
  readonly mirror: JournalMirror;
  readonly journalFiles: number[];
  /** A torn tail cut from the last journal file (already truncated), or null. */
  readonly torn: { readonly file: number; readonly reason: string } | null;
  readonly repair: RecoveryReport | null;
  /** Segment records recovery found torn, to delete. */
  readonly tornSegmentKeys: readonly number[];
}

/**
 * Replays the journal, cuts a torn tail off the last file, verifies every record (recovery.ts)
 * and deletes what no record names (temporary files, snapshots replaced before a crash).
 */
export async function readDisk(directory: string, limits: LayoutLimits): Promise<DiskState> {
  const names = await readdir(directory);
  const journalFiles = names
    .map((name) => JOURNAL_PATTERN.exec(name)?.[1])
    .filter((digits) => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const mirror = new JournalMirror(true);
  let torn: DiskState['torn'] = null;
  for (const file of journalFiles) {
    const name = journalName(file);
    const read = readJournal(name, await readFile(join(directory, name)));
    for (const batch of read.batches) for (const op of batch) mirror.apply(op, file);
    if (read.damage === null) continue;
    const last = file === journalFiles.at(-1);
    if (!last || read.damage.followedByGood) {
      const where = last ? 'and a good batch follows' : 'in a journal file that was complete';
      throw new StorageCorruptError(directory, `${name}: ${read.damage.reason}, ${where}`);
    }
    await truncateDurably(join(directory, name), read.end);
    torn = { file, reason: `${name}: ${read.damage.reason}` };
  }
  const meta = (name: MetaName): unknown => mirror.meta.get(name);
  const recovery = await recover(directory, {
    hardState: meta('hardState'),
    snapshot: meta('snapshot'),
    compaction: meta('compaction'),
    repair: meta('repair'),
    segmentKeys: mirror.segmentKeys,
    segmentValues: mirror.segmentRecords,
    readChunks: async (index) =>
      decodeSealedRecords(
        await readFile(join(directory, snapshotName(index))).catch(() => new Uint8Array(0)),
      ),
  });
  const keptSnapshot = recovery.snapshot?.meta.index;
  for (const name of names) {
    const index = SNAPSHOT_PATTERN.exec(name)?.[1];
    const stray = name.endsWith('.tmp') || (index !== undefined && Number(index) !== keptSnapshot);
    if (stray) await unlink(join(directory, name)).catch(() => undefined);
  }
  const log = recovery.log;
  const truncatedAfter = log.entries.at(-1)?.index ?? log.point.index;
  const repair =
    recovery.tornSegmentKeys.length > 0 || torn === null
      ? recovery.repair
      : { truncatedAfter, reason: `torn journal tail: ${torn.reason}` };
  const votesWithheld = recovery.votesWithheld || torn !== null;
  return {
    state: persistedStateOf(recovery, votesWithheld),
    layout: SegmentLayout.recovered(limits, log),
    mirror: mirror.dropRecords(),
    journalFiles,
    torn,
    repair,
    tornSegmentKeys: recovery.tornSegmentKeys,
  };
}
