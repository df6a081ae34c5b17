/**
 * A hostile peer in the room (issue 10): three members over MeshTransport — real frames, the real
 * codec — and "mallory", a peer with an authenticated channel to each (it knows the room secret)
 * but no place in the configuration. Mallory sends thousands of seeded fuzzed frames: random
 * bytes, valid frames cut, flipped and extended, oversized frames, frames of another room or for
 * another member, frames claiming another sender, and well-formed messages of every kind a
 * non-leader sends, at stale or current terms. Every one is dropped and counted or answered, no
 * member stops, and the cluster keeps committing. Forged leadership (a term ahead) is the limit
 * of the threat model (SECURITY.md): it disrupts, but nothing acknowledged is lost and the
 * cluster commits again once it stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KvSession } from '../../../src/client/kv-session.js';
import type { Message } from '../../../src/core/messages.js';
import { createSeededRandom } from '../../../src/core/random.js';
import type { Random } from '../../../src/core/random.js';
import { LocalCluster } from '../../../src/runtime/local-cluster.js';
import { kvCommand } from '../../../src/state/kv-commands.js';
import { encodeFrame, FRAME_BYTES_MAX } from '../../../src/transport/codec.js';
import type { FrameChannel } from '../../../src/transport/webrtc/frame-channel.js';
import { portFrames } from '../../../src/transport/webrtc/frame-channel.js';
import { MeshTransport } from '../../../src/transport/webrtc/mesh-transport.js';

const ROOM = 'room';
const IDS = ['m1', 'm2', 'm3'];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const ports: MessagePort[] = [];
let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
  for (const port of ports.splice(0)) port.close();
});

/** The three members' mesh, and a channel from mallory into each member. */
async function startMeshCluster() {
  const meshes = new Map(IDS.map((id) => [id, new MeshTransport({ cluster: ROOM, self: id })]));
  for (const [i, a] of IDS.entries()) {
    for (const b of IDS.slice(i + 1)) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1, port2);
      meshes.get(a)!.attach(b, portFrames(port1));
      meshes.get(b)!.attach(a, portFrames(port2));
    }
  }
  const mallory = new Map<string, (frame: Uint8Array | null) => void>();
  for (const [id, mesh] of meshes) {
    let deliver: (frame: Uint8Array | null) => void = () => undefined;
    const channel: FrameChannel = {
      send: () => undefined, // What members answer mallory goes nowhere.
      bufferedAmount: 0,
      onFrame: (handler) => (deliver = handler),
      onDrain: () => undefined,
      onClose: () => undefined,
      close: () => undefined,
    };
    mesh.attach('mallory', channel); // Authenticated: mallory knows the room secret.
    mallory.set(id, (frame) => deliver(frame));
  }
  cluster = await LocalCluster.start({ size: 3, tickMs: 10, transportOf: (id) => meshes.get(id) });
  while (cluster.leader() === null) await sleep(5);
  return { cluster, meshes, mallory };
}

function bytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = random.int(256);
  return out;
}

/** A well-formed message a non-leader could send, from `from` to `to`, at a term up to `termMax`. */
function nonLeaderMessage(random: Random, from: string, to: string, termMax: number): Message {
  const term = random.int(termMax + 1);
  const index = random.int(1000);
  const envelope = { from, to, term };
  switch (random.int(8)) {
    case 0:
      return {
        ...envelope,
        type: 'appendResponse',
        reject: random.int(2) === 0,
        index,
        hintIndex: random.int(index + 1),
        hintTerm: random.int(term + 1),
      };
    case 1:
      return {
        ...envelope,
        type: 'heartbeatResponse',
        readSeq: random.int(100),
        sentTick: random.int(10_000),
      };
    case 2:
      return {
        ...envelope,
        type: random.int(2) === 0 ? 'voteResponse' : 'preVoteResponse',
        reject: random.int(2) === 0,
      };
    case 3:
      return { ...envelope, type: 'preVote', lastIndex: index, lastTerm: random.int(term + 1) };
    case 4:
      return { ...envelope, type: 'readIndex', context: `ctx${random.int(50)}` };
    case 5:
      return {
        ...envelope,
        type: 'readIndexResponse',
        context: `ctx${random.int(50)}`,
        reject: random.int(2) === 0,
        index,
      };
    case 6:
      return { ...envelope, type: 'snapshotResponse', index, offset: random.int(1 << 20) };
    default:
      // A "forwarded proposal" of garbage: the leader may propose it, and the KV refuses it.
      return { ...envelope, type: 'forward', data: bytes(random, random.int(64)) };
  }
}

/** One fuzzed frame from mallory to `to`, of a kind drawn at random; also says which kind. */
function fuzzedFrame(
  random: Random,
  to: string,
  term: number,
): { kind: string; frame: Uint8Array | null } {
  const valid = () => encodeFrame(ROOM, nonLeaderMessage(random, 'mallory', to, term));
  switch (random.int(9)) {
    case 0:
      return { kind: 'randomBytes', frame: bytes(random, random.int(300)) };
    case 1: {
      const frame = valid();
      return { kind: 'truncated', frame: frame.subarray(0, random.int(frame.length)) };
    }
    case 2: {
      const frame = valid().slice();
      for (let flips = 1 + random.int(4); flips > 0; flips--) {
        const at = random.int(frame.length);
        frame[at] = frame[at]! ^ (1 + random.int(255));
      }
      return { kind: 'flipped', frame };
    }
    case 3: {
      const frame = valid();
      const extended = new Uint8Array(frame.length + 1 + random.int(64));
      extended.set(frame);
      extended.set(bytes(random, extended.length - frame.length), frame.length);
      return { kind: 'extended', frame: extended };
    }
    case 4:
      return { kind: 'oversized', frame: new Uint8Array(FRAME_BYTES_MAX + 1 + random.int(1024)) };
    case 5:
      return {
        kind: 'otherRoom',
        frame: encodeFrame('another-room', nonLeaderMessage(random, 'mallory', to, term)),
      };
    case 6:
      return {
        kind: 'otherRecipient',
        frame: encodeFrame(ROOM, nonLeaderMessage(random, 'mallory', 'm9', term)),
      };
    case 7: {
      // Claims to come from another member (even a leader's append) over mallory's channel.
      const claimed = IDS[random.int(IDS.length)]!;
      const message: Message =
        random.int(2) === 0
          ? {
              type: 'append',
              from: claimed,
              to,
              term: term + 5,
              prevIndex: 0,
              prevTerm: 0,
              entries: [],
              commit: 0,
            }
          : nonLeaderMessage(random, claimed, to, term);
      return { kind: 'spoofedSender', frame: encodeFrame(ROOM, message) };
    }
    default:
      return random.int(20) === 0
        ? { kind: 'notBytes', frame: null }
        : { kind: 'wellFormed', frame: valid() };
  }
}

const FRAMES = 12_000;

describe('a hostile peer in the room', () => {
  it(`drops or answers ${FRAMES.toLocaleString('en')} fuzzed frames; no member stops; writes keep committing`, async () => {
    const { cluster, meshes, mallory } = await startMeshCluster();
    const session = await KvSession.open({
      submit: (c) => cluster.submit(c),
      sleep,
      attemptsMax: 100,
      retryDelayMs: 5,
    });
    const random = createSeededRandom(20261126);
    const kinds = new Map<string, number>();
    const writes: Promise<unknown>[] = [];
    for (let sent = 0; sent < FRAMES;) {
      const term = cluster.leader()?.status().term ?? 1;
      for (let burst = 0; burst < 400 && sent < FRAMES; burst++, sent++) {
        const to = IDS[random.int(IDS.length)]!;
        const { kind, frame } = fuzzedFrame(random, to, term);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        mallory.get(to)!(frame);
      }
      writes.push(session.put(`k${sent}`, sent));
      await sleep(2);
    }
    const results = await Promise.all(writes);
    expect(results.every((result) => (result as { type: string }).type === 'put')).toBe(true);
    // After the flood: a write commits and every member applies the same state.
    await session.put('after', true);
    await waitUntil(() => new Set(IDS.map((id) => cluster.stateMachine(id).digest())).size === 1);
    for (const id of IDS) expect(cluster.member(id).status().stopped).toBe(false);

    const meshDrops = sumOf(IDS.map((id) => meshes.get(id)!.drops()));
    if (process.env['HOSTILE_DEBUG'])
      console.log(meshDrops, sumOf(IDS.map((id) => cluster.member(id).dropCounts())));
    const coreDrops = sumOf(IDS.map((id) => cluster.member(id).dropCounts()));
    for (const reason of [
      'wrongCluster',
      'wrongRecipient',
      'spoofedSender',
      'notBytes',
      'oversize',
    ])
      expect(meshDrops[reason] ?? 0, reason).toBeGreaterThan(0);
    expect(Object.values(meshDrops).reduce((a, b) => a + b, 0)).toBeGreaterThan(FRAMES / 2);
    expect(Object.values(coreDrops).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect([...kinds.keys()].sort()).toEqual([
      'extended',
      'flipped',
      'notBytes',
      'otherRecipient',
      'otherRoom',
      'oversized',
      'randomBytes',
      'spoofedSender',
      'truncated',
      'wellFormed',
    ]);
    // Garbage mallory forwarded was refused by the KV: only our keys are in the state.
    const state = await cluster.read({ type: 'range', prefix: '', limit: 1000 });
    const keys = (state as { entries: readonly { key: string }[] }).entries.map(
      (entry) => entry.key,
    );
    expect(keys.every((key) => key === 'after' || /^k\d+$/.test(key))).toBe(true);
  }, 60_000);

  it('forged leadership from a room member disrupts, but loses nothing, and the cluster recovers', async () => {
    const { cluster, mallory } = await startMeshCluster();
    const session = await KvSession.open({
      submit: (c) => cluster.submit(c),
      sleep,
      attemptsMax: 400,
      retryDelayMs: 5,
    });
    for (let i = 0; i < 20; i++) await session.put(`before${i}`, i);
    const term = cluster.leader()!.status().term;
    const lastIndex = Math.max(...IDS.map((id) => cluster.member(id).status().lastIndex));
    // Mallory claims leadership at ever higher terms, with TimeoutNow, heartbeats and appends,
    // and even tries to overwrite the log from its start with entries of its own.
    for (let round = 1; round <= 20; round++) {
      for (const to of IDS) {
        const forged: Message[] = [
          // First in its term: TimeoutNow from a term ahead.
          { type: 'timeoutNow', from: 'mallory', to, term: term + round },
          {
            type: 'heartbeat',
            from: 'mallory',
            to,
            term: term + round,
            commit: lastIndex + 50,
            readSeq: 0,
            sentTick: 0,
          },
          {
            type: 'append',
            from: 'mallory',
            to,
            term: term + round,
            prevIndex: 0,
            prevTerm: 0,
            commit: 1,
            entries: [
              { index: 1, term: term + round, kind: 'normal', data: kvCommand.registerSession() },
            ],
          },
        ];
        for (const message of forged) mallory.get(to)!(encodeFrame(ROOM, message));
      }
      await sleep(5);
    }
    // Mallory goes quiet: the members elect one of themselves and commit again.
    for (let i = 0; i < 20; i++) await session.put(`after${i}`, i);
    await waitUntil(() => new Set(IDS.map((id) => cluster.stateMachine(id).digest())).size === 1);
    for (const id of IDS) expect(cluster.member(id).status().stopped).toBe(false);
    const state = await cluster.read({ type: 'range', prefix: '', limit: 1000 });
    const keys = (state as { entries: readonly { key: string }[] }).entries.map(
      (entry) => entry.key,
    );
    for (let i = 0; i < 20; i++) expect(keys).toContain(`before${i}`);
    expect(IDS.map((id) => cluster.member(id).status().leaderId)).not.toContain('mallory');
    // The disruption was real (terms followed mallory's), and TimeoutNow ahead of term moved none.
    expect(cluster.leader()!.status().term).toBeGreaterThan(term + 20);
    const drops = sumOf(IDS.map((id) => cluster.member(id).dropCounts()));
    expect(drops['timeoutNowAheadOfTerm'] ?? 0).toBeGreaterThan(0);
  }, 60_000);
});

function sumOf(
  counts: readonly Readonly<Record<string, number | undefined>>[],
): Record<string, number> {
  const total: Record<string, number> = {};
  for (const count of counts)
    for (const [reason, n] of Object.entries(count))
      total[reason] = (total[reason] ?? 0) + (n ?? 0);
  return total;
}

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}
