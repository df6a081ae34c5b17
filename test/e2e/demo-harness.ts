/**
 * What the demo's browser tests share: the servers (one set per test file) and, from tabs.ts,
 * tabs of the demo page with `window.webraft`, waiting for a condition, and each tab's status.
 */
import { afterAll, beforeAll } from 'vitest';
import { startDemoServers } from './demo-server.js';
import type { DemoServers } from './demo-server.js';

export * from './tabs.js';

/** Starts the demo's servers before the file's tests and stops them after; read `.current`. */
export function useDemoServers(): { current: DemoServers } {
  const holder = {} as { current: DemoServers };
  beforeAll(async () => {
    holder.current = await startDemoServers();
  });
  afterAll(async () => {
    await holder.current?.close();
  });
  return holder;
}
