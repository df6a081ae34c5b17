/**
 * Three MemberHosts (what each tab's worker runs) over IndexedDB (fake-indexeddb) and a mesh of
 * MessagePorts: the first bootstraps, the others are added by the leader's membership rules,
 * writes from any member (forwarded by followers) reach every member, and a departed member is
 * removed.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemberHost } from '../../../src/client/member-host.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const hosts: MemberHost[] = [];
let rooms = 0;

afterEach(async () => {
  for (const host of hosts.splice(0)) await host.leave().catch(() => undefined);
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Links two hosts with a port pair, as the page does with an authenticated data channel. */
function link(a: MemberHost, aId: string, b: MemberHost, bId: string): void {
  const { port1, port2 } = new MessageChannel();
  a.offerPort(bId, 'g1', port1);
  b.offerPort(aId, 'g1', port2);
  a.authenticated(bId, 'g1');
  b.authenticated(aId, 'g1');
}

describe('MemberHost: the member in each tab', () => {
  it('forms a cluster from the first tab, adds the others, and replicates writes from any', async () => {
    const room = `host-room-${++rooms}`;
    const ids = ['t1', 't2', 't3'];
    const [first, second, third] = ids.map(() => new MemberHost());
    hosts.push(first!, second!, third!);
    await first!.start({ room, memberId: 't1', existing: false, bootstrap: true, tickMs: 10 });
    await second!.start({ room, memberId: 't2', existing: false, bootstrap: false, tickMs: 10 });
    await third!.start({ room, memberId: 't3', existing: false, bootstrap: false, tickMs: 10 });
    link(first!, 't1', second!, 't2');
    link(first!, 't1', third!, 't3');
    link(second!, 't2', third!, 't3');
    for (const host of [first!, second!, third!]) host.setRoomMembers(ids);
    await waitFor(() => first!.status().voters.length === 3, 'three voters');

    await third!.put('greeting', 'hello from a follower');
    await second!.put('count', 1);
    expect((await first!.get('greeting'))?.value).toBe('hello from a follower');
    await waitFor(() => third!.entries().length === 2, 'third applies both');
    expect(second!.entries().map((e) => e.key)).toEqual(['count', 'greeting']);
    expect(third!.recentLog(3).map((line) => line.summary)).toContain('put count = 1');

    // t3 leaves the room: after the grace period the leader removes it.
    await third!.leave();
    for (const host of [first!, second!]) host.setRoomMembers(['t1', 't2']);
    await waitFor(() => !first!.status().voters.includes('t3'), 't3 removed', 10_000);
    await second!.put('after', true);
    expect((await first!.get('after'))?.value).toBe(true);
  });
});

describe('MemberHost.entries', () => {
  it('returns every key, past one range page (1,000 keys)', async () => {
    const host = new MemberHost();
    hosts.push(host);
    await host.start({
      room: `host-room-${++rooms}`,
      memberId: 'solo',
      existing: false,
      bootstrap: true,
      tickMs: 10,
    });
    await waitFor(() => host.status().role === 'leader', 'a leader');
    const keys = Array.from({ length: 1_203 }, (_, i) => `k-${i}`);
    await Promise.all(keys.map((key) => host.put(key, key)));
    const entries = host.entries();
    expect(entries).toHaveLength(keys.length);
    expect(entries.map((entry) => entry.key)).toEqual([...keys].sort());
  });
});
