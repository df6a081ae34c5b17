/**
 * DurableObjectStorage on the real thing: workerd runs a Durable Object (durable-object-probe.ts)
 * whose storage is on disk (`durableObjectStorage = (localDisk = …)`), the test writes through
 * it, kills the process (SIGKILL: a crash, not a drain), starts it again on the same directory,
 * and reads every byte back — also for writes acknowledged while the process was killed.
 * It prints what a persist costs inside workerd (milliseconds, keys, transactions).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleModule } from '../../../scripts/build-edge.js';
import { freePort } from '../../e2e/edge-hosts.js';

const WORKERD = fileURLToPath(new URL('../../../node_modules/.bin/workerd', import.meta.url));
let root = '';
let config = '';

/** What /state answers. */
interface ProbeState {
  readonly lastIndex: number;
  readonly hardState: {
    readonly term: number;
    readonly vote: string | null;
    readonly commit: number;
  };
  readonly snapshotIndex: number | null;
  readonly snapshotOk: boolean;
  readonly bad: readonly number[];
  readonly votesWithheld: boolean;
  readonly info: { readonly transactions: number; readonly keysWritten: number };
}

interface AppendResult {
  readonly lastIndex: number;
  readonly writeMs: readonly number[];
  readonly info: {
    readonly transactions: number;
    readonly keysWritten: number;
    readonly keysDeleted: number;
  };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webraft-do-storage-'));
  await bundleModule('test/unit/storage/durable-object-probe.ts', root, 'probe');
  config = join(root, 'probe.capnp');
  writeFileSync(
    config,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .probe), (name = "do-disk", disk = (path = "${join(root, 'disk')}", writable = true))],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);
const probe :Workerd.Worker = (
  modules = [(name = "probe.js", esModule = embed "probe.js")],
  compatibilityDate = "2025-11-01",
  bindings = [(name = "PROBES", durableObjectNamespace = "StorageProbe")],
  durableObjectNamespaces = [(className = "StorageProbe", uniqueKey = "webraft-storage-probe", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk"),
);
`,
  );
  mkdirSync(join(root, 'disk'));
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A running workerd with the probe, on a free port. */
interface Probe {
  readonly url: string;
  request<T>(path: string, method?: string): Promise<T>;
  kill(): Promise<void>;
}

async function startProbe(): Promise<Probe> {
  const port = await freePort();
  const child = spawn(WORKERD, ['serve', config, '--socket-addr', `http=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let printed = '';
  child.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const probe: Probe = {
    url,
    async request<T>(path: string, method = 'POST'): Promise<T> {
      const response = await fetch(`${url}${path}`, { method });
      const text = await response.text();
      if (!response.ok) throw new Error(`${path}: ${response.status} ${text}\n${printed}`);
      return JSON.parse(text) as T;
    },
    kill: () => killHard(child),
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited: ${printed}`);
    try {
      await fetch(`${url}/nothing`);
      return probe;
    } catch {
      if (Date.now() > deadline) {
        await probe.kill();
        throw new Error(`workerd did not listen: ${printed}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('DurableObjectStorage in workerd, on disk', () => {
  it('reads back every entry, the snapshot and the hard state after the process is killed', async () => {
    let probe = await startProbe();
    try {
      await probe.request<AppendResult>('/append?count=20&bytes=64');
      // One entry over the 128 KiB value limit (stored in parts), then a snapshot in chunks.
      await probe.request<AppendResult>(`/append?count=1&bytes=${300 * 1024}`);
      await probe.request('/compact');
      const last = await probe.request<AppendResult>('/append?count=10&bytes=64');
      expect(last.lastIndex).toBe(31);
      await probe.kill();
      probe = await startProbe();
      const state = await probe.request<ProbeState>('/state', 'GET');
      expect(state).toMatchObject({
        lastIndex: 31,
        hardState: { term: 1, vote: 'probe', commit: 31 },
        snapshotIndex: 21,
        snapshotOk: true,
        bad: [],
        votesWithheld: false,
      });
      // A big entry kept past compaction: parts, not a single value, in real workerd too.
      await probe.request<AppendResult>(`/append?count=1&bytes=${200 * 1024}`);
      await probe.kill();
      probe = await startProbe();
      const again = await probe.request<ProbeState>('/state', 'GET');
      expect(again).toMatchObject({ lastIndex: 32, bad: [], snapshotOk: true });
    } finally {
      await probe.kill();
    }
  }, 90_000);

  it('loses no acknowledged write when the process is killed under a write load', async () => {
    let probe = await startProbe();
    const prefix = 'load/';
    let acknowledged = 0;
    let stop = false;
    try {
      await probe.request(`/append?count=1&prefix=${prefix}`);
      acknowledged = 1;
      // One writer (a member persists in order); each request appends five entries.
      const writer = (async () => {
        while (!stop) {
          const result = await probe
            .request<AppendResult>(`/append?count=5&prefix=${prefix}`)
            .catch(() => null);
          if (result === null) return;
          acknowledged = Math.max(acknowledged, result.lastIndex);
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await probe.kill();
      stop = true;
      await writer;
      expect(acknowledged).toBeGreaterThan(10);
      probe = await startProbe();
      const state = await probe.request<ProbeState>(`/state?prefix=${prefix}`, 'GET');
      expect(state.bad).toEqual([]);
      expect(state.lastIndex).toBeGreaterThanOrEqual(acknowledged);
      expect(state.hardState.commit).toBe(state.lastIndex);
    } finally {
      stop = true;
      await probe.kill();
    }
  }, 90_000);

  it('measures a persist inside workerd (milliseconds, transactions, keys) and alarm against timer ticks', async () => {
    const probe = await startProbe();
    try {
      const rows: string[] = [];
      for (const confirm of ['sync', 'outputGate'] as const) {
        const prefix = `measure-${confirm}/`;
        const result = await probe.request<AppendResult>(
          `/append?count=200&bytes=64&prefix=${prefix}&confirm=${confirm}`,
        );
        const sorted = [...result.writeMs].sort((a, b) => a - b);
        const at = (q: number): string => sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(2);
        const { transactions, keysWritten, keysDeleted } = result.info;
        rows.push(
          `${confirm}: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms per persist; ` +
            `${transactions} transactions, ${keysWritten} keys written, ${keysDeleted} deleted for 200 appends`,
        );
        expect(transactions).toBe(200);
      }
      // The tick source of an edge member: alarms (one storage write each) against timers.
      for (const source of ['alarm', 'timer'] as const) {
        const intervals = await probe.request<number[]>(`/ticks?source=${source}&count=40&ms=50`);
        const sorted = [...intervals].sort((a, b) => a - b);
        const at = (q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!;
        rows.push(`${source} ticks meant 50 ms apart: p50 ${at(0.5)} ms, max ${at(1)} ms`);
        expect(intervals).toHaveLength(40);
      }
      console.log(`DurableObjectStorage in workerd (local disk):\n  ${rows.join('\n  ')}`);
    } finally {
      await probe.kill();
    }
  }, 90_000);
});

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
