/**
 * The edge hosts of the signaling server as child processes on 127.0.0.1, for tests: workerd
 * (`workerd serve` of the built config) and Deno (`deno run` of the bundle), both from
 * node_modules/.bin, on a free port. Each test file builds its own bundles (a directory of its
 * own) and stops what it started.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEdgeBundles } from '../../scripts/build-edge.js';
import { DENO_EDGE_PERMISSIONS } from '../../src/edge/deno-permissions.js';
import type { EdgeBuild } from '../../scripts/build-edge.js';
import { waitFor } from './tabs.js';

/** 'deno-edge': signaling with edge members on Deno (src/edge/deno.ts); the others signaling. */
export type EdgeHostKind = 'workerd' | 'deno' | 'deno-edge';
/** The hosts that serve signaling alone. */
export const EDGE_HOST_KINDS: readonly EdgeHostKind[] = ['workerd', 'deno'];

/** A running host. */
export interface EdgeHost {
  readonly kind: EdgeHostKind;
  /** `ws://127.0.0.1:PORT`, for SignalingClient and the demo's `?signal=`. */
  readonly url: string;
  /** What the process printed so far (for failure messages). */
  output(): string;
  /**
   * Stops it (see `stopChild`), with SIGKILL if it has not exited within 5 s; `signal` SIGKILL
   * kills it at once (a crash).
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const BIN = fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url));
const SETTINGS = [
  'SIGNAL_ROOM_SECRETS',
  'SIGNAL_BOOTSTRAP_GRACE_MS',
  'SIGNAL_HOST',
  'SIGNAL_PORT',
  'EDGE_ROOMS',
  'EDGE_DATA_DIR',
  'EDGE_PUBLIC_URL',
];

/** Bundles into a fresh temporary directory; `remove` deletes it. */
export async function buildEdgeForTest(): Promise<EdgeBuild & { remove(): void }> {
  const outDir = mkdtempSync(join(tmpdir(), 'webraft-edge-'));
  const built = await buildEdgeBundles(outDir);
  return { ...built, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

/**
 * Starts `kind` from `built` with `settings` (SIGNAL_*) and waits until it answers.
 * `storageDir`: workerd's Durable Object storage on disk there, or the Deno edge host's
 * EDGE_DATA_DIR, so that a restart remembers.
 * `port`: listen there (a restart on the address the clients know); default a free one.
 */
export async function startEdgeHost(
  kind: EdgeHostKind,
  built: EdgeBuild,
  settings: Readonly<Record<string, string>> = {},
  storageDir?: string,
  port?: number,
): Promise<EdgeHost> {
  port ??= await freePort();
  const env = { ...withoutSettings(process.env), ...settings };
  const config =
    storageDir === undefined || kind !== 'workerd'
      ? built.workerdConfig
      : withDiskStorage(built, storageDir);
  const deno = (entry: string, permissions: readonly string[], extra: Record<string, string>) =>
    spawn(join(BIN, 'deno'), ['run', '--no-prompt', ...permissions, entry], {
      env: {
        ...env,
        ...extra,
        SIGNAL_HOST: '127.0.0.1',
        SIGNAL_PORT: String(port),
        DENO_NO_UPDATE_CHECK: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const child =
    kind === 'workerd'
      ? spawn(join(BIN, 'workerd'), ['serve', config, '--socket-addr', `http=127.0.0.1:${port}`], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : kind === 'deno'
        ? deno(built.denoEntry, ['--allow-net=127.0.0.1', `--allow-env=${SETTINGS.join(',')}`], {})
        : deno(
            built.denoEdgeEntry,
            DENO_EDGE_PERMISSIONS,
            storageDir === undefined ? {} : { EDGE_DATA_DIR: storageDir },
          );
  let printed = '';
  child.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const host: EdgeHost = {
    kind,
    url: `ws://127.0.0.1:${port}`,
    output: () => printed,
    // workerd drains on SIGTERM, waiting for open WebSockets to end; SIGINT stops it at once.
    // Deno closes its sockets with 1001 on SIGTERM (deno.ts).
    stop: (signal) => stopChild(child, signal ?? (kind === 'workerd' ? 'SIGINT' : 'SIGTERM')),
  };
  try {
    // Both answer a plain GET with 426 once they serve; nothing else listens on that port.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${kind} exited: ${printed}`);
        const response = await fetch(`http://127.0.0.1:${port}/`);
        return response.status === 426 ? true : null;
      },
      `${kind} to listen on ${port}`,
      20_000,
    );
  } catch (error) {
    await host.stop();
    throw new Error(`${kind} did not start: ${String(error)}\n${printed}`, { cause: error });
  }
  return host;
}

/** A copy of the built workerd config whose Durable Objects store on disk in `storageDir`. */
function withDiskStorage(built: EdgeBuild, storageDir: string): string {
  const shipped = readFileSync(built.workerdConfig, 'utf8');
  const services = 'services = [(name = "signaling", worker = .signalingWorker)],';
  const storage = 'durableObjectStorage = (inMemory = void),';
  if (!shipped.includes(services) || !shipped.includes(storage)) {
    throw new Error('edge/workerd.capnp changed: update withDiskStorage');
  }
  const onDisk = shipped
    .replace(
      services,
      'services = [(name = "signaling", worker = .signalingWorker), ' +
        `(name = "room-storage", disk = (path = ${JSON.stringify(storageDir)}, writable = true))],`,
    )
    .replace(storage, 'durableObjectStorage = (localDisk = "room-storage"),');
  const path = join(built.outDir, 'workerd-on-disk.capnp');
  writeFileSync(path, onDisk);
  return path;
}

function withoutSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !SETTINGS.includes(name)) kept[name] = value;
  }
  return kept;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}

/** A port free on 127.0.0.1 a moment ago (workerd takes its port on the command line). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
