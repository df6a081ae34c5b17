/**
 * Runs the signaling server from the command line: `npx tsx src/signaling/main.ts`.
 *
 * Environment: SIGNAL_PORT (default 8787), SIGNAL_HOST (default 127.0.0.1),
 * SIGNAL_ROOM_SECRETS, a JSON object of room -> secret for rooms that require a proof, and
 * SIGNAL_BOOTSTRAP_GRACE_MS (default 8000), how long after its start the server names no
 * bootstrapper so that the tabs of running clusters reconnect first (limits.ts; 0: no wait).
 */
import { roomSecretsFrom } from './host-config.js';
import { startSignalingServer } from './node-server.js';

const secrets = roomSecretsFrom(process.env.SIGNAL_ROOM_SECRETS);
const server = await startSignalingServer({
  host: process.env.SIGNAL_HOST || undefined,
  secrets,
});
const secretRooms = Object.keys(secrets ?? {}).length;
console.log(
  `webraft signaling server listening on ${server.url} (${secretRooms} rooms with secrets; ` +
    `bootstrappers named from ${server.limits.bootstrapGraceMs} ms after start)`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
