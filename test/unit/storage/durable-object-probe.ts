/**
 * A Worker for durable-object-workerd.test.ts, bundled and run by real workerd: one Durable
 * Object (`StorageProbe`) that keeps a DurableObjectStorage in its own storage and answers
 * requests to append, compact and read back, so the test can restart the process between them.
 *
 *   POST /append?count=N&bytes=B&prefix=P&confirm=sync|outputGate  N persists of one entry each
 *   POST /compact?prefix=P                                        a snapshot at the last index
 *   GET  /state?prefix=P                                          what load() finds, checked
 *   POST /ticks?source=alarm|timer&count=N&ms=M                   N ticks M ms apart, as timed
 *
 * Every entry's bytes are a function of its index (`entryData`), and so are the snapshot's, so the
 * read back can check every byte without the test sending them.
 */
import type { Entry } from '../../../src/core/types.js';
import { crc32 } from '../../../src/storage/crc32.js';
import type { DurableObjectStorageLike } from '../../../src/storage/durable-object-api.js';
import { DurableObjectStorage } from '../../../src/storage/durable-object.js';
import type { DurableObjectStorageOptions } from '../../../src/storage/durable-object.js';

interface ProbeEnv {
  readonly PROBES: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(request: Request): Promise<Response> };
  };
}

/** The bytes of entry `index`: `bytes` long, a pattern that names the index. */
export function entryData(index: number, bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 131 + i * 7) & 0xff;
  return data;
}

/** The Worker: every request goes to the one probe object. */
export default {
  fetch(request: Request, env: ProbeEnv): Promise<Response> {
    return env.PROBES.get(env.PROBES.idFromName('probe')).fetch(request);
  },
};

/** The object's storage with its alarm. */
interface ProbeStorage extends DurableObjectStorageLike {
  setAlarm(scheduledTimeMs: number): Promise<void>;
}

export class StorageProbe {
  private readonly opened = new Map<string, Promise<DurableObjectStorage>>();
  /** Alarm ticks under way: when each came, how many are left, and who waits for them. */
  private alarmTicks: { at: number[]; left: number; ms: number; done: () => void } | null = null;
  constructor(private readonly state: { readonly storage: ProbeStorage }) {}

  async alarm(): Promise<void> {
    const ticks = this.alarmTicks;
    if (ticks === null) return;
    ticks.at.push(Date.now());
    if (--ticks.left > 0) await this.state.storage.setAlarm(Date.now() + ticks.ms);
    else ticks.done();
  }

  /** Intervals between `count` ticks meant to come `ms` apart, from alarms or from timers. */
  private async ticks(source: string, count: number, ms: number): Promise<number[]> {
    const at: number[] = [Date.now()];
    if (source === 'alarm') {
      await new Promise<void>((done) => {
        this.alarmTicks = { at, left: count, ms, done };
        void this.state.storage.setAlarm(Date.now() + ms);
      });
      this.alarmTicks = null;
    } else {
      for (let i = 0; i < count; i++) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        at.push(Date.now());
      }
    }
    return at.slice(1).map((time, i) => time - at[i]!);
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const prefix = url.searchParams.get('prefix') ?? 'raft/';
    const confirm = url.searchParams.get('confirm') === 'outputGate' ? 'outputGate' : 'sync';
    try {
      const storage = await this.storage(prefix, { prefix, confirm });
      if (url.pathname === '/append') {
        const count = Number(url.searchParams.get('count') ?? '1');
        const bytes = Number(url.searchParams.get('bytes') ?? '16');
        return json(await append(storage, count, bytes));
      }
      if (url.pathname === '/compact') return json(await compact(storage));
      if (url.pathname === '/ticks') {
        const count = Number(url.searchParams.get('count') ?? '20');
        const ms = Number(url.searchParams.get('ms') ?? '50');
        return json(await this.ticks(url.searchParams.get('source') ?? 'timer', count, ms));
      }
      if (url.pathname === '/state') return json(await readBack(storage));
      return new Response('not found', { status: 404 });
    } catch (error) {
      return new Response(String(error instanceof Error ? error.stack : error), { status: 500 });
    }
  }

  private async storage(
    prefix: string,
    options: DurableObjectStorageOptions,
  ): Promise<DurableObjectStorage> {
    let opened = this.opened.get(prefix);
    if (opened === undefined) {
      opened = openStorage(this.state.storage, prefix, options);
      this.opened.set(prefix, opened);
    }
    return opened;
  }
}

/** The probe's storage under `prefix`, created on first use, loaded once as a member would. */
async function openStorage(
  medium: DurableObjectStorageLike,
  prefix: string,
  options: DurableObjectStorageOptions,
): Promise<DurableObjectStorage> {
  const id = await DurableObjectStorage.memberIdIn(medium, prefix);
  const storage =
    id === null
      ? await DurableObjectStorage.create(medium, `probe-${prefix.replace(/\W/g, '')}`, options)
      : await DurableObjectStorage.open(medium, options);
  await storage.load();
  return storage;
}

/** Appends `count` entries one persist each, with the hard state; the time of each persist. */
async function append(storage: DurableObjectStorage, count: number, bytes: number) {
  const writeMs: number[] = [];
  let last = storage.info().lastIndex;
  for (let i = 0; i < count; i++) {
    const index = last + 1;
    // The length goes first in the data, so the read back knows how long each entry should be.
    const entry: Entry = { index, term: 1, kind: 'normal', data: sized(index, bytes) };
    const started = performance.now();
    await storage.persist({
      hardState: { term: 1, vote: 'probe', commit: index },
      snapshot: null,
      entries: [entry],
    });
    writeMs.push(performance.now() - started);
    last = index;
  }
  return { lastIndex: last, writeMs, info: storage.info() };
}

async function compact(storage: DurableObjectStorage) {
  const index = storage.info().lastIndex;
  const data = entryData(index, 300 * 1024); // Three chunks: over the 128 KiB value limit.
  const meta = { index, term: 1, config: { voters: ['probe'], learners: [] } };
  await storage.compact({ meta, data }, index);
  return { snapshotIndex: index, info: storage.info() };
}

/** What load() finds, with every byte checked against what was written. */
async function readBack(storage: DurableObjectStorage) {
  const loaded = await storage.load();
  const bad: number[] = [];
  for (const entry of loaded.entries) {
    const bytes = new DataView(entry.data.buffer, entry.data.byteOffset).getUint32(0, true);
    if (crc32(entry.data) !== crc32(sized(entry.index, bytes))) bad.push(entry.index);
  }
  const snapshot = loaded.snapshot;
  const snapshotOk =
    snapshot === null || crc32(snapshot.data) === crc32(entryData(snapshot.meta.index, 300 * 1024));
  return {
    firstIndex: loaded.entries[0]?.index ?? null,
    lastIndex: loaded.entries.at(-1)?.index ?? snapshot?.meta.index ?? 0,
    hardState: loaded.hardState,
    snapshotIndex: snapshot?.meta.index ?? null,
    snapshotOk,
    bad,
    votesWithheld: loaded.votesWithheld === true,
    info: storage.info(),
  };
}

/** Entry data of `bytes` bytes (at least 4) whose first four say how long it is. */
function sized(index: number, bytes: number): Uint8Array {
  const data = entryData(index, Math.max(4, bytes));
  new DataView(data.buffer).setUint32(0, data.length, true);
  return data;
}

function json(value: unknown): Response {
  return new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json' } });
}
