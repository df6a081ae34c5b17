/**
 * The demo's two servers for browser tests: the signaling server and the vite dev server of the
 * web app, each on a free port on 127.0.0.1. Pages open `url` (which names the signaling server).
 */
import { startSignalingServer } from '../../src/signaling/node-server.js';
import { startViteDevServer } from '../../src/testing/app-server.js';

export interface DemoServers {
  /**
   * The page for `room`, pointed at this signaling server: the demo, or `bare` (webraft with no
   * UI, web/bare.html, which the benchmarks use).
   */
  pageUrl(room: string, page?: 'demo' | 'bare'): string;
  /** The signaling server the pages join. */
  readonly signalingUrl: string;
  /** Stops the signaling server (rooms are forgotten, connections dropped). */
  stopSignaling(): Promise<void>;
  /** Starts it again on the same port. */
  startSignaling(): Promise<void>;
  close(): Promise<void>;
}

/** `signalingUrl`: a signaling server run elsewhere (an edge host); no Node one is started. */
export async function startDemoServers(
  options: { readonly signalingUrl?: string } = {},
): Promise<DemoServers> {
  let signaling: Awaited<ReturnType<typeof startSignalingServer>> | null =
    options.signalingUrl !== undefined
      ? null
      : // A first start names bootstrappers at once; a restart keeps the default grace, in which
        // the tabs of a cluster reconnect before any new tab could start a second one.
        await startSignalingServer({ port: 0, limits: { bootstrapGraceMs: 0 } });
  const signalingUrl = options.signalingUrl ?? signaling?.url ?? '';
  const signalingPort = signaling?.port ?? 0;
  const web = await startViteDevServer();
  const base = web.url;
  return {
    signalingUrl,
    pageUrl: (room, page = 'demo') =>
      `${new URL(page === 'bare' ? 'bare.html' : '', base).href}?room=${room}` +
      `&signal=${encodeURIComponent(signalingUrl)}`,
    stopSignaling: async () => {
      await signaling?.close();
      signaling = null;
    },
    startSignaling: async () => {
      if (options.signalingUrl !== undefined) throw new Error('the signaling server is not ours');
      signaling ??= await startSignalingServer({ port: signalingPort });
    },
    close: async () => {
      await web.close();
      await signaling?.close();
    },
  };
}
