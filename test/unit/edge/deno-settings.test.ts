/**
 * The Deno edge host's settings (src/edge/deno.ts) and the permissions it runs with: what
 * `npm run edge:deno` passes must be what the tests grant Deno (deno-permissions.ts), no more.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DENO_EDGE_PERMISSIONS } from '../../../src/edge/deno-permissions.js';
import { namedEdgeRooms, readDenoEdgeSettings } from '../../../src/edge/deno.js';

const env =
  (values: Record<string, string>) =>
  (name: string): string | undefined =>
    values[name];

describe('the Deno edge host', () => {
  it('reads its rooms, data directory and public URL, with clear errors', () => {
    expect(readDenoEdgeSettings(env({ EDGE_ROOMS: 'demo', EDGE_DATA_DIR: '/srv/rooms' }))).toEqual({
      rooms: 'demo',
      named: ['demo'],
      dataRoot: '/srv/rooms',
      publicUrl: null,
      roomsMax: 64,
    });
    const behindProxy = env({ EDGE_ROOMS: '*', EDGE_PUBLIC_URL: 'https://rooms.example.dev' });
    expect(readDenoEdgeSettings(behindProxy).publicUrl).toBe('https://rooms.example.dev');
    expect(readDenoEdgeSettings(env({ EDGE_ROOMS: 'demo' })).dataRoot).toMatch(/\.webraft$/);
    expect(() => readDenoEdgeSettings(env({}))).toThrow(/EDGE_ROOMS must name the rooms/);
    expect(() => readDenoEdgeSettings(env({ EDGE_ROOMS: '{demo' }))).toThrow(/not valid JSON/);
    expect(readDenoEdgeSettings(env({ EDGE_ROOMS: '*', EDGE_ROOMS_MAX: '8' })).roomsMax).toBe(8);
    expect(() => readDenoEdgeSettings(env({ EDGE_ROOMS: '*', EDGE_ROOMS_MAX: '0' }))).toThrow(
      /EDGE_ROOMS_MAX must be/,
    );
    expect(() =>
      readDenoEdgeSettings(env({ EDGE_ROOMS: 'demo', EDGE_PUBLIC_URL: 'rooms.example.dev' })),
    ).toThrow(/EDGE_PUBLIC_URL must be/);
  });

  it('starts the rooms EDGE_ROOMS names with the process, and leaves `*` to the first socket', () => {
    expect(namedEdgeRooms('demo, board')).toEqual(['demo', 'board']);
    expect(namedEdgeRooms('*')).toEqual([]);
    expect(namedEdgeRooms('{"demo": {"voter": false}, "*": {}}')).toEqual(['demo']);
    expect(namedEdgeRooms('demo, not a room')).toEqual(['demo']);
  });

  it('runs under `npm run edge:deno` with exactly the permissions the tests grant', () => {
    const scripts = (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    const flags = scripts['edge:deno']!.split(' ').filter((word) => word.startsWith('--allow'));
    expect(flags).toEqual(DENO_EDGE_PERMISSIONS);
  });
});
