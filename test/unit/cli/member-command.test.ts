/**
 * `webraft member`'s command line: defaults, every flag, and the refusals that exit with 2.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMemberCommand, UsageError } from '../../../src/cli/member-command.js';

const repository = fileURLToPath(new URL('../../..', import.meta.url));

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repository,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('webraft member: flags', () => {
  it('joins room demo on the local signaling server by default', () => {
    const command = parseMemberCommand([]);
    expect(command.member).toMatchObject({ room: 'demo', signalingUrl: 'ws://127.0.0.1:8787' });
    expect(command.member.dataDir).toMatch(/\.webraft\/demo$/);
    expect(command).toMatchObject({ help: false, json: false, intervalMs: 5000 });
  });

  it('reads every flag, and the secret from WEBRAFT_SECRET when not given', () => {
    const args = ['--room', 'r1', '--signal', 'wss://example.test', '--data-dir', '/tmp/x'];
    const command = parseMemberCommand([...args, '--voters', '5', '--interval', '0.5', '--json'], {
      WEBRAFT_SECRET: 's3',
    });
    expect(command.member).toEqual({
      room: 'r1',
      signalingUrl: 'wss://example.test',
      dataDir: '/tmp/x',
      secret: 's3',
      votersTarget: 5,
    });
    expect(command).toMatchObject({ json: true, intervalMs: 500 });
    expect(parseMemberCommand(['--secret', 'flag'], { WEBRAFT_SECRET: 'env' }).member.secret).toBe(
      'flag',
    );
  });

  it.each([
    [['--bogus'], /Unknown option/],
    [['--voters', '4'], /1, 3, 5 or 7/],
    [['--room', 'a room'], /letters, digits/],
    [['--signal', 'http://x'], /ws:\/\//],
    [['--interval', '0'], /above 0/],
    [['extra'], /positional/],
  ])('refuses %j with a UsageError', (args, message) => {
    expect(() => parseMemberCommand(args)).toThrow(UsageError);
    expect(() => parseMemberCommand(args)).toThrow(message);
  });
});

describe('webraft: the process', () => {
  it('prints usage with --help and exits 0', () => {
    const run = cli('member', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: webraft member');
  });

  it('exits 2 with the error and the usage on a bad flag or command', () => {
    const bad = cli('member', '--nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("webraft: Unknown option '--nope'");
    expect(cli('serve').status).toBe(2);
    expect(cli().status).toBe(2);
  });
});
