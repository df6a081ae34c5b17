/**
 * A member over storage that fails: the failure is typed and surfaced (status, rejected
 * operations, onFailure), the member stops acknowledging, and nothing it acknowledged is lost.
 * Then a member over IndexedDbStorage (fake-indexeddb) restarting from its database.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { KvSession } from '../../../src/client/kv-session.js';
import { createSeededRandom } from '../../../src/core/random.js';
import { Member } from '../../../src/runtime/member.js';
import type { MemberOptions } from '../../../src/runtime/member.js';
import { MemberStoppedError } from '../../../src/runtime/errors.js';
import { realScheduler, wallClock } from '../../../src/runtime/scheduler.js';
import { KvStateMachine } from '../../../src/state/kv.js';
import type { KvQuery, KvQueryResult, KvResult } from '../../../src/state/kv-types.js';
import { StorageQuotaError, StorageUnavailableError } from '../../../src/storage/errors.js';
import { IndexedDbStorage } from '../../../src/storage/indexeddb.js';
import { MemoryDisk, MemoryStorage } from '../../../src/storage/memory.js';
import type { PersistUpdate, Storage } from '../../../src/storage/storage.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';

type KvMember = Member<KvResult, KvQuery, KvQueryResult>;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const running: KvMember[] = [];

afterEach(async () => {
  for (const member of running.splice(0)) await member.stop();
});

/** MemoryStorage that refuses every write once `full` is set, as a browser out of quota would. */
class FillingStorage extends MemoryStorage {
  full = false;
  override async persist(update: PersistUpdate): Promise<void> {
    if (this.full) throw new StorageQuotaError('test-db');
    return super.persist(update);
  }
}

async function startAlone(
  storage: Storage,
  extra: Partial<MemberOptions<KvResult, KvQuery, KvQueryResult>> = {},
): Promise<{ member: KvMember; machine: KvStateMachine }> {
  const machine = new KvStateMachine();
  const member = await Member.start<KvResult, KvQuery, KvQueryResult>({
    id: 'm1',
    bootstrap: { voters: ['m1'], learners: [] },
    storage,
    transport: new MemoryNetwork().connect('m1'),
    stateMachine: machine,
    scheduler: realScheduler,
    wallClock,
    random: createSeededRandom(1),
    tickMs: 5,
    ...extra,
  });
  running.push(member);
  for (let i = 0; i < 400 && member.status().role !== 'leader'; i++) await sleep(5);
  return { member, machine };
}

const session = (member: KvMember) =>
  KvSession.open({ submit: (command) => member.propose(command), sleep, attemptsMax: 1 });

describe('a member whose storage fails', () => {
  it('stops with a typed cause, shows it in status, and keeps what it acknowledged', async () => {
    const disk = new MemoryDisk();
    const storage = new FillingStorage(disk);
    const failures: MemberStoppedError[] = [];
    const { member } = await startAlone(storage, { onFailure: (e) => failures.push(e) });
    const client = await session(member);
    for (let i = 1; i <= 5; i++) await client.put(`k${i}`, i);
    const acknowledgedThrough = disk.lastIndex;

    storage.full = true;
    const refused = await client.put('k6', 6).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(MemberStoppedError);
    expect((refused as MemberStoppedError).cause).toBeInstanceOf(StorageQuotaError);
    expect(member.status()).toMatchObject({
      stopped: true,
      failure: { code: 'STORAGE_QUOTA' },
      storage: { kind: 'memory' },
    });
    expect(failures).toHaveLength(1);
    await expect(member.propose(new Uint8Array([1]))).rejects.toMatchObject({
      code: 'MEMBER_STOPPED',
      cause: expect.any(StorageQuotaError),
    });

    // Restarted over the same disk (space freed), every acknowledged write is there.
    storage.full = false;
    expect(disk.lastIndex).toBe(acknowledgedThrough);
    const { member: again, machine } = await startAlone(new MemoryStorage(disk));
    for (let i = 0; i < 200 && machine.appliedIndex < acknowledgedThrough; i++) await sleep(5);
    for (let i = 1; i <= 5; i++) {
      expect(await again.read({ type: 'get', key: `k${i}` }, 'local')).toMatchObject({ value: i });
    }
  });
});

/** MemoryStorage that can lose its medium with no write under way, as a closed database does. */
class ClosingStorage extends MemoryStorage {
  lost: Error | null = null;
  failed(): Error | null {
    return this.lost;
  }
}

describe('a member whose storage is lost between writes', () => {
  it('stops at its next tick, with the typed cause, without waiting for a write', async () => {
    const storage = new ClosingStorage(new MemoryDisk());
    const failures: MemberStoppedError[] = [];
    const { member } = await startAlone(storage, { onFailure: (e) => failures.push(e) });
    const client = await session(member);
    await client.put('before', 1);

    storage.lost = new StorageUnavailableError('test-db', 'the browser closed the database');
    for (let i = 0; i < 200 && failures.length === 0; i++) await sleep(5);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.cause).toBe(storage.lost);
    expect(member.status()).toMatchObject({
      stopped: true,
      failure: { code: 'STORAGE_UNAVAILABLE' },
    });
  });
});

describe('a member over IndexedDbStorage', () => {
  it('restarts from its database with its log, vote and state', async () => {
    const storage = await IndexedDbStorage.create('member-idb-1');
    const { member } = await startAlone(storage);
    const client = await session(member);
    for (let i = 1; i <= 20; i++) await client.put('counter', i);
    const term = member.status().term;
    expect(member.status().storage).toMatchObject({ kind: 'indexeddb', failure: null });
    await member.stop();

    const { member: again } = await startAlone(await IndexedDbStorage.open('member-idb-1'));
    expect(again.status().term).toBeGreaterThanOrEqual(term);
    expect(await again.read({ type: 'get', key: 'counter' })).toMatchObject({ value: 20 });
  });
});
