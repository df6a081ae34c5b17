/**
 * webraft with no UI: joins a room as the demo does (same URL parameters, see
 * connect-options.ts), subscribes to the applied changes as an app would, and draws nothing.
 * The benchmarks run their tabs on this page, so they measure webraft and not the demo's
 * drawing, as y-webrtc's tabs run a page with a Y.Map and no UI. `window.webraft` is the handle.
 */
import { connect } from '../src/client/connect.js';
import type { Cluster } from '../src/client/connect.js';
import { connectOptionsFromUrl } from './connect-options.js';

declare global {
  interface Window {
    webraft?: Cluster;
    /** Changes applied here since the page joined: what an app's subscriber would have seen. */
    webraftChangesSeen?: number;
  }
}

async function main(): Promise<void> {
  const options = connectOptionsFromUrl();
  const cluster = await connect(options);
  window.webraftChangesSeen = 0;
  cluster.subscribe((changes) => {
    window.webraftChangesSeen! += changes.length;
  });
  window.webraft = cluster;
  document.getElementById('connection')!.textContent = `room ${options.room}, member ${cluster.id}`;
  // As the demo: a closing tab hands over, and the grace period decides about its removal.
  addEventListener('pagehide', () => void cluster.close({ leave: false }));
}

main().catch((error: unknown) => {
  document.getElementById('connection')!.textContent = `failed: ${String(error)}`;
  console.error(error);
});
