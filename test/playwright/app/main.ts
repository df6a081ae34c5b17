/**
 * A small app of the kind our users write, for the fixture's `url` and `handle` options: it joins
 * the room its URL names, keeps a vote counter with compare-and-swap, and sets `window.board` (not
 * `window.webraft`) to its cluster.
 */
import { connect } from '../../../src/index.js';
import type { JsonValue } from '../../../src/index.js';

const params = new URLSearchParams(location.search);
const cluster = await connect({
  room: params.get('room') ?? 'board',
  ...(params.get('signal') ? { signalingUrl: params.get('signal')! } : {}),
});
(window as unknown as { board: typeof cluster }).board = cluster;

const shown = document.querySelector<HTMLOutputElement>('[data-testid="votes"]')!;
const button = document.querySelector<HTMLButtonElement>('[data-testid="vote"]')!;
cluster.subscribe((changes) => {
  for (const change of changes) if (change.key === 'votes') shown.value = String(change.value ?? 0);
});
button.disabled = false;
button.addEventListener('click', async () => {
  // Read, then swap in one more; a lost race reads again.
  for (;;) {
    const current = await cluster.kv.get('votes');
    const count = typeof current?.value === 'number' ? current.value : 0;
    const expected: JsonValue | null = current === null ? null : count;
    if ((await cluster.kv.cas('votes', expected, count + 1)).ok) return;
  }
});
