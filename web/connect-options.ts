/**
 * The room a page joins, from its URL, for the demo and the bare page alike: `?room=NAME`
 * (default `demo`), `&voters=5` for another voter target, `&signal=URL` for another signaling
 * server, and `#secret=…` in the fragment, which never leaves the browser (no server, no logs).
 */
import type { ConnectOptions } from '../src/client/connect.js';
import { checkVotersTarget } from '../src/client/autopilot.js';

export function connectOptionsFromUrl(): ConnectOptions & { readonly room: string } {
  const params = new URLSearchParams(location.search);
  const signalingUrl = params.get('signal');
  const voters = params.get('voters');
  const secret = new URLSearchParams(location.hash.slice(1)).get('secret');
  return {
    room: params.get('room') ?? 'demo',
    ...(signalingUrl ? { signalingUrl } : {}),
    ...(voters ? { votersTarget: checkVotersTarget(Number(voters)) } : {}),
    ...(secret ? { secret } : {}),
  };
}
