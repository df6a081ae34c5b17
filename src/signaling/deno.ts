/**
 * The signaling server on Deno (decision 9), the entry of the `signaling-deno.js` bundle:
 * `npm run signal:deno`, or `deno run --allow-net --allow-env=… dist/edge/signaling-deno.js`, or
 * Deno Deploy with that file as the entrypoint. The host itself is deno-host.ts.
 */
import { serveSignalingOnDeno } from './deno-host.js';
import type { DenoRuntime } from './deno-host.js';

const deno = (globalThis as { Deno?: DenoRuntime }).Deno;
if (deno !== undefined) serveSignalingOnDeno(deno);
