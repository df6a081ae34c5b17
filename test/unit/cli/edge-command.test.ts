/**
 * `webraft edge`: its flags (the member's, plus where raft sockets are accepted and the voter
 * wish), refused with a usage error when they cannot be used; and the process itself, which
 * prints its status and leaves cleanly, exit code 0, on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEdgeCommand } from '../../../src/cli/edge-command.js';
import { UsageError } from '../../../src/cli/member-command.js';
import { startSignalingServer } from '../../../src/signaling/node-server.js';

describe('webraft edge flags', () => {
  it('defaults: room demo, port 8790, a voter, its own data directory', () => {
    const command = parseEdgeCommand([], {});
    expect(command.edge).toMatchObject({ room: 'demo', port: 8790, voter: true });
    expect(command.edge.dataDir).toMatch(/demo-edge$/);
  });

  it('reads the edge flags and the shared ones', () => {
    const command = parseEdgeCommand(
      ['--room', 'r', '--port', '0', '--no-voter', '--public-url', 'wss://edge.example/raft'],
      { WEBRAFT_SECRET: 's' },
    );
    expect(command.edge).toMatchObject({
      room: 'r',
      port: 0,
      voter: false,
      publicUrl: 'wss://edge.example/raft',
      secret: 's',
    });
  });

  it('refuses what it cannot use', () => {
    for (const args of [
      ['--port', '70000'],
      ['--port', 'x'],
      ['--public-url', 'http://edge.example/'],
      ['--voter', '--no-voter'],
      ['--webrtc'],
    ]) {
      expect(() => parseEdgeCommand(args, {}), args.join(' ')).toThrow(UsageError);
    }
  });
});

describe('the webraft edge process', () => {
  it('prints its status and leaves with exit code 0 on SIGTERM', async () => {
    const server = await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
    const dataDir = mkdtempSync(join(tmpdir(), 'webraft-edge-cli-'));
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'edge',
          '--room',
          'cli',
          '--signal',
          server.url,
        ].concat(['--data-dir', dataDir, '--port', '0']),
        {
          cwd: fileURLToPath(new URL('../../..', import.meta.url)),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 20_000;
      while (!/ e-[0-9a-f]{12} leader /.test(output) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output).toMatch(/ e-[0-9a-f]{12} leader /);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('left room cli');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await server.close();
    }
  }, 30_000);
});
