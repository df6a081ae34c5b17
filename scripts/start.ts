/**
 * `npm start`: the demo with nothing else to configure — the signaling server on
 * 127.0.0.1:8787 (SIGNAL_PORT) and the web app's dev server on 127.0.0.1:5173 (WEB_PORT), in one
 * process. Open the printed URL in three tabs. `npm run preview` serves the production build
 * (`npm run build`) the same way.
 */
import { createServer, preview } from 'vite';
import { startSignalingServer } from '../src/signaling/node-server.js';

const host = '127.0.0.1';
const webPort = Number(process.env.WEB_PORT ?? 5173);
const mode = process.argv.includes('--preview') ? 'preview' : 'dev';

const signaling = await startSignalingServer({ host });
const configFile = new URL('../vite.config.ts', import.meta.url).pathname;
const web =
  mode === 'dev'
    ? await (
        await createServer({ configFile, server: { host, port: webPort, strictPort: true } })
      ).listen()
    : await preview({ configFile, preview: { host, port: webPort, strictPort: true } });
const url = `http://${host}:${webPort}/`;

console.log(`webraft demo (${mode})`);
console.log(`  signaling server  ${signaling.url}`);
console.log(`  web app           ${url}   <- open in three tabs (?room=NAME for another room)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([signaling.close(), web.close()]).then(() => process.exit(0));
  });
}
