/**
 * The page-to-worker lane for KV calls and changes: calls of one turn cross as one message,
 * results and changes of one turn come back as one (changes first), and errors keep their class,
 * code, fields and cause.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvLaneClient, serveKvLane } from '../../../src/client/kv-lane.js';
import type { KvLaneOp } from '../../../src/client/kv-lane.js';
import { NotLeaderError } from '../../../src/core/errors.js';
import { MemberStoppedError, TimeoutError } from '../../../src/runtime/errors.js';
import type { KvChange } from '../../../src/state/kv-types.js';
import { StorageQuotaError } from '../../../src/storage/errors.js';

const open: MessagePort[] = [];
afterEach(() => {
  for (const port of open.splice(0)) port.close();
});

/** A lane whose worker side runs `run`, counting the messages that cross each way. */
function lane(run: (op: KvLaneOp) => Promise<unknown>) {
  const { port1, port2 } = new MessageChannel();
  open.push(port1, port2);
  const crossed = { toWorker: 0, toPage: 0 };
  const emit: ((changes: readonly KvChange[]) => void)[] = [];
  const count = (port: MessagePort, field: keyof typeof crossed) => {
    const post = port.postMessage.bind(port);
    port.postMessage = (message: unknown) => {
      crossed[field]++;
      post(message);
    };
  };
  count(port1, 'toWorker');
  count(port2, 'toPage');
  serveKvLane(port2, {
    run,
    watch: (listener) => {
      emit.push(listener);
      return () => emit.splice(emit.indexOf(listener), 1);
    },
  });
  return { client: new KvLaneClient(port1), crossed, emit };
}

const put = (key: string, value: unknown = 1): KvLaneOp =>
  ({ type: 'put', key, value }) as KvLaneOp;

describe('KvLane', () => {
  it('sends the calls of one turn as one message and answers them in one', async () => {
    const { client, crossed } = lane(async (op) => ({
      type: op.type,
      key: (op as { key: string }).key,
    }));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => client.call(put(`k${i}`))),
    );
    expect(results[42]).toEqual({ type: 'put', key: 'k42' });
    expect(crossed).toEqual({ toWorker: 1, toPage: 1 });
  });

  it('rebuilds errors as their class, with code, fields and cause', async () => {
    const { client } = lane(async (op) => {
      if (op.type === 'get') throw new NotLeaderError('m7');
      if (op.type === 'delete') throw new TimeoutError('proposal', 5000);
      throw new MemberStoppedError('failed', new StorageQuotaError('webraft/db'));
    });
    const notLeader = await client
      .call({ type: 'get', key: 'a', consistency: 'linearizable' })
      .catch((e: unknown) => e);
    expect(notLeader).toBeInstanceOf(NotLeaderError);
    expect(notLeader).toMatchObject({ code: 'NOT_LEADER', leaderId: 'm7', name: 'NotLeaderError' });
    expect((notLeader as Error).message).toBe('not the leader; try m7');
    const timeout = await client.call({ type: 'delete', key: 'a' }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect((timeout as TimeoutError).code).toBe('TIMEOUT');
    const stopped = await client.call(put('a')).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(MemberStoppedError);
    const cause = (stopped as Error).cause;
    expect(cause).toBeInstanceOf(StorageQuotaError);
    expect((cause as StorageQuotaError).code).toBe('STORAGE_QUOTA');
  });

  it('delivers changes before the results of the same turn, only while subscribed', async () => {
    const seen: string[] = [];
    const { client, emit } = lane(async (op) => {
      emit[0]?.([{ key: (op as { key: string }).key, value: 1, version: 1, index: 9 }]);
      return 'done';
    });
    const stop = client.subscribe((changes) => seen.push(`change ${changes[0]!.key}`));
    await client.call(put('warm-up')); // The watch request has reached the worker.
    await client.call(put('k')).then(() => seen.push('put resolved'));
    expect(seen.slice(-2)).toEqual(['change k', 'put resolved']);
    stop();
    await client.call(put('after'));
    expect(emit).toHaveLength(0);
  });

  it('fails only the call whose value cannot cross, and every call after close', async () => {
    const { client } = lane(async () => 'ok');
    const good = client.call(put('a'));
    const bad = client.call(put('b', () => 1)).catch((e: unknown) => e);
    expect(await good).toBe('ok');
    expect(await bad).toBeInstanceOf(Error);
    client.close(new MemberStoppedError('closed'));
    await expect(client.call(put('c'))).rejects.toBeInstanceOf(MemberStoppedError);
  });
});
