/**
 * The y-webrtc page of the vs-ywebrtc benchmark: one Y.Doc with a WebrtcProvider on one room and
 * a Y.Map, as an app built on yjs would have. The writer stamps each `map.set` and the readers
 * stamp each remote change at the top of their `observe` handler (the moment the app could show
 * it), all with `benchClock`, the machine-wide clock the benchmark installs in every tab.
 */
import * as Y from 'yjs';
import { WebrtcProvider } from 'y-webrtc';

type BenchGlobal = { benchClock?: () => number };

const clock = (): number => {
  const read = (globalThis as BenchGlobal).benchClock;
  if (read === undefined) throw new Error('benchClock is not installed');
  return read();
};

const seenAt = new Map<string, number>();
let provider: WebrtcProvider | null = null;
let map: Y.Map<string> | null = null;

/** Opens the room through the y-webrtc signaling server at `signalingUrl`. */
export function join(options: { signalingUrl: string; room: string }): void {
  if (provider !== null) throw new Error('already joined');
  const doc = new Y.Doc();
  map = doc.getMap<string>('bench');
  map.observe((event) => {
    if (event.transaction.local) return;
    const at = clock();
    for (const key of event.keysChanged) if (!seenAt.has(key)) seenAt.set(key, at);
  });
  // Defaults otherwise (filterBcConns, maxConns): y-webrtc as an app would start it.
  provider = new WebrtcProvider(options.room, doc, { signaling: [options.signalingUrl] });
}

/** Peers connected over WebRTC (and synced), and peers heard over BroadcastChannel. */
export function peers(): { webrtc: number; synced: number; broadcastChannel: number } {
  const room = provider?.room ?? null;
  const conns = [...(room?.webrtcConns.values() ?? [])];
  return {
    webrtc: conns.filter((conn) => conn.connected).length,
    synced: conns.filter((conn) => conn.synced).length,
    broadcastChannel: room?.bcConns.size ?? 0,
  };
}

/**
 * Writes `count` keys `prefix0…` of `value`, one at a time, `gapMs` to `gapMs + spanMs` apart
 * (uniformly random), and returns when each `set` was called (benchClock ms).
 */
export async function writeBlock(
  prefix: string,
  count: number,
  value: string,
  gapMs: number,
  spanMs: number,
): Promise<number[]> {
  if (map === null) throw new Error('not joined');
  const sentAt: number[] = [];
  for (let i = 0; i < count; i++) {
    sentAt.push(clock());
    map.set(`${prefix}${i}`, value);
    await new Promise((resolve) => setTimeout(resolve, gapMs + Math.random() * spanMs));
  }
  return sentAt;
}

/** When this tab saw keys `prefix0…prefix{count-1}` (benchClock ms; null: not seen). */
export function seen(prefix: string, count: number): (number | null)[] {
  return Array.from({ length: count }, (_, i) => seenAt.get(`${prefix}${i}`) ?? null);
}
