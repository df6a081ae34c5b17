/**
 * The demo page: joins a room (`?room=NAME`, default `demo`; `&voters=5` for another voter
 * target, `&signal=URL` for another signaling server) through the signaling server, shows
 * the replicated key-value state live, this member's view of the cluster and its log, and offers
 * puts, deletes, a disconnect switch (fault injection) and a graceful leave. `window.webraft` is
 * the connected cluster handle, for automation; `data-testid` attributes are stable hooks.
 */
import { connect } from '../src/client/connect.js';
import type { Cluster, ClusterStatus } from '../src/client/connect.js';
import { memberKind } from '../src/client/member-kind.js';
import type { JsonValue } from '../src/state/kv-types.js';
import { connectOptionsFromUrl } from './connect-options.js';
import { TimelinePanel } from './timeline.js';

declare global {
  interface Window {
    webraft?: Cluster;
    /** The message timeline panel: `exportShiViz()` gathers this browser's tabs of the room. */
    webraftTimeline?: TimelinePanel;
  }
}

const $ = <T extends HTMLElement>(selector: string): T => {
  const element = document.querySelector<T>(selector);
  if (element === null) throw new Error(`missing ${selector}`);
  return element;
};
/** Sets an element's text, only when it changes: a write that changes nothing still relayouts. */
const text = (selector: string, value: string): void => {
  const element = $(selector);
  if (element.textContent !== value) element.textContent = value;
};
/** Fills a list with one item per line, only when the lines change. */
const list = (selector: string, lines: readonly string[], values?: readonly number[]): void => {
  const element = $(selector);
  const drawn = JSON.stringify([lines, values]);
  if (element.dataset['drawn'] === drawn) return;
  element.dataset['drawn'] = drawn;
  element.replaceChildren(
    ...lines.map((line, i) => {
      const item = document.createElement('li');
      if (values !== undefined) item.value = values[i]!;
      item.textContent = line;
      return item;
    }),
  );
};

const options = connectOptionsFromUrl();
const { room } = options;

async function main(): Promise<void> {
  text('#connection', `joining room ${room}…`);
  const cluster = await connect(options);
  window.webraft = cluster;
  text('#connection', `room ${room}`);
  text('[data-testid="member-id"]', cluster.id);
  const table = new StateTable(cluster);
  await table.load();
  let logDrawnAt = -1;
  cluster.onStatus((status) => {
    // A hidden tab draws nothing; the next status after it is shown brings it up to date.
    if (document.visibilityState === 'hidden') return;
    renderStatus(status);
    // The log panel changes only with the log: no query while it stands still.
    if (status.lastIndex !== logDrawnAt) {
      logDrawnAt = status.lastIndex;
      void renderLog(cluster);
    }
  });
  wireForm(cluster);
  wireControls(cluster);
  window.webraftTimeline = new TimelinePanel(cluster, room);
  // Hidden or reloading: hand over and stop, but let the grace period decide about removal.
  addEventListener('pagehide', () => void cluster.close({ leave: false }));
}

/**
 * The replicated state as a table of its first keys, kept from the committed changes themselves:
 * no query per change, at most one render per RENDER_INTERVAL_MS however fast changes arrive (a
 * busy cluster applies thousands a second), none while the tab is hidden, and a render touches
 * only rows that changed or moved. Rebuilding a thousand rows twenty times a second was more of
 * a busy tab's CPU than its member.
 */
class StateTable {
  private readonly rows = new Map<string, { value: JsonValue; version: number }>();
  /** Keys a change has touched since the last render (before the first load: all of them). */
  private readonly changed = new Set<string>();
  /** The keys on screen, sorted: the first ROWS_SHOWN_MAX of the state. */
  private shown: string[] = [];
  private readonly elements = new Map<string, HTMLTableRowElement>();
  private loaded = false;
  private renderTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly cluster: Cluster) {}

  async load(): Promise<void> {
    // Subscribe first, so no change falls between the load and the subscription.
    this.cluster.subscribe((changes) => {
      for (const { key, value, version } of changes) {
        this.changed.add(key);
        if (value === null) this.rows.delete(key);
        else this.rows.set(key, { value, version });
      }
      if (this.loaded) this.schedule();
    });
    for (const { key, value, version } of await this.cluster.kv.entries()) {
      if (!this.changed.has(key)) this.rows.set(key, { value, version });
    }
    this.loaded = true; // From now on the changes alone keep the table.
    this.rebuild();
    document.addEventListener('visibilitychange', () => this.schedule());
  }

  private schedule(): void {
    // A hidden tab draws nothing: it catches up when it is shown again.
    if (document.visibilityState === 'hidden') return;
    this.renderTimer ??= setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, RENDER_INTERVAL_MS);
  }

  private rebuild(): void {
    this.changed.clear();
    this.elements.clear();
    this.shown = [...this.rows.keys()].sort().slice(0, ROWS_SHOWN_MAX);
    $('#kv-rows').replaceChildren(...this.shown.map((key) => this.element(key)));
    this.renderCount();
  }

  private renderCount(): void {
    const { size } = this.rows;
    text(
      '#kv-count',
      size > this.shown.length ? `the first ${this.shown.length} of ${size} keys` : `${size} keys`,
    );
  }

  private render(): void {
    const gone = this.shown.some((key) => !this.rows.has(key));
    if (gone && this.rows.size > this.shown.length) return this.rebuild(); // A hidden key moves up.
    // The first rows now are among those shown and those changed: no sort of the whole state.
    const candidates = new Set(this.shown);
    for (const key of this.changed) if (this.rows.has(key)) candidates.add(key);
    const next = [...candidates].filter((key) => this.rows.has(key));
    next.sort();
    next.length = Math.min(next.length, ROWS_SHOWN_MAX);
    for (const key of this.changed) {
      const element = this.elements.get(key);
      const row = this.rows.get(key);
      if (element !== undefined && row !== undefined) fillRow(element, key, row);
    }
    this.changed.clear();
    if (next.length !== this.shown.length || next.some((key, i) => key !== this.shown[i])) {
      const kept = new Set(next);
      for (const key of this.shown) if (!kept.has(key)) this.elements.delete(key);
      this.shown = next;
      $('#kv-rows').replaceChildren(
        ...next.map((key) => this.elements.get(key) ?? this.element(key)),
      );
    }
    this.renderCount();
  }

  private element(key: string): HTMLTableRowElement {
    const element = document.createElement('tr');
    element.dataset['testid'] = 'kv-row';
    element.dataset['key'] = key;
    element.append(...[0, 1, 2].map(() => document.createElement('td')));
    fillRow(element, key, this.rows.get(key)!);
    this.elements.set(key, element);
    return element;
  }
}

function fillRow(
  element: HTMLTableRowElement,
  key: string,
  { value, version }: { value: JsonValue; version: number },
): void {
  const [keyCell, valueCell, versionCell] = element.cells;
  keyCell!.textContent = key;
  valueCell!.textContent = JSON.stringify(value);
  versionCell!.textContent = String(version);
}

/** A render per this many ms at most. */
const RENDER_INTERVAL_MS = 100;
/** Rows the table shows (sorted by key); the rest stay in the state. */
const ROWS_SHOWN_MAX = 100;

function renderStatus(status: ClusterStatus): void {
  const warning = $('#room-warning');
  warning.hidden = status.roomSecret;
  text(
    '#room-warning',
    status.roomSecret
      ? ''
      : `Open room: no secret. Anyone who knows the name "${status.room}" and reaches the ` +
          'signaling server can join this cluster, read its state and write to it. Give every ' +
          'tab of the room the same #secret=… in the URL to require one (see SECURITY.md).',
  );
  text(
    '[data-testid="role"]',
    status.failure === null ? status.role : `stopped (${status.failure.code})`,
  );
  const role = $('[data-testid="role"]');
  if (role.className !== `role-${status.role}`) role.className = `role-${status.role}`;
  text('[data-testid="term"]', String(status.term));
  text('[data-testid="leader-id"]', status.leaderId ?? 'none');
  text('[data-testid="commit-index"]', String(status.commitIndex));
  text('#applied-index', String(status.appliedIndex));
  // Edge and Node members are marked: they outlive tabs, and the autopilot prefers edge voters.
  const kinds = new Map(status.peers.map((peer) => [peer.id, peer.kind]));
  const marked = (id: string): string => {
    const kind = kinds.get(id) ?? memberKind(id);
    return kind === 'tab' ? id : `${id} (${kind})`;
  };
  text('#voters', status.voters.map(marked).join(', ') || '–');
  text('#learners', status.learners.map(marked).join(', ') || '–');
  text(
    '#storage',
    status.storage === null
      ? '–'
      : `${status.storage.kind}, persistence ${status.storage.persistence}`,
  );
  text(
    '#signaling',
    status.signaling === 'connected'
      ? 'connected'
      : 'unreachable: tabs of this browser only (BroadcastChannel), retrying',
  );
  text('[data-testid="member-id"]', status.id);
  const { restarts } = status;
  text(
    '#restarts',
    restarts.restarting
      ? `restarting after ${status.failure?.code ?? 'a failure'}…`
      : restarts.last === null
        ? 'none'
        : `${restarts.count}, last after ${restarts.last.code}` +
          (restarts.last.from === restarts.last.to
            ? ' (same member, from its database)'
            : ` (rejoined as ${restarts.last.to})`),
  );
  const { pauses, page } = status;
  text(
    '#pauses',
    pauses.last === null
      ? `none${page.visibility === 'hidden' ? ' (page hidden)' : ''}`
      : `${pauses.count}, last ${Math.round(pauses.last.durationMs)} ms, ` +
          `longest ${Math.round(pauses.longestMs)} ms; ${page.handOffs} hand-offs`,
  );
  list(
    '#peers',
    status.peers.map(
      ({ id, state, kind }) =>
        `${id}${kind === 'tab' ? '' : ` (${kind}${kind === 'edge' ? ', WebSocket' : ''})`}: ` +
        `${state === 'local' ? 'this browser (BroadcastChannel)' : state}, ` +
        (status.connected.includes(id) ? 'linked' : 'not linked'),
    ),
  );
  const { votersTarget, decisions } = status.autopilot;
  text(
    '#autopilot-target',
    `target ${votersTarget} voters${status.role === 'leader' ? '' : ' (decides while leading)'}`,
  );
  list(
    '#autopilot-decisions',
    decisions.slice(-5).map((d) => `${d.change}: ${d.reason} (${d.outcome})`),
  );
  text('#disconnect', status.isolated ? 'Reconnect' : 'Disconnect');
}

async function renderLog(cluster: Cluster): Promise<void> {
  const lines = await cluster.recentLog(15);
  list(
    '#log-lines',
    lines.map((line) => `t${line.term} ${line.summary}`),
    lines.map((line) => line.index),
  );
}

/** A value as typed: JSON when it parses, else the text itself. */
function parseValue(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return raw;
  }
}

function wireForm(cluster: Cluster): void {
  const form = $<HTMLFormElement>('#kv-form');
  const key = $<HTMLInputElement>('[data-testid="kv-key"]');
  const value = $<HTMLInputElement>('[data-testid="kv-value"]');
  const report = async (action: () => Promise<unknown>): Promise<void> => {
    text('#kv-error', '');
    try {
      await action();
    } catch (error) {
      text('#kv-error', (error as Error).message);
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void report(() => cluster.kv.put(key.value, parseValue(value.value)));
  });
  $('#kv-delete').addEventListener('click', () => void report(() => cluster.kv.delete(key.value)));
}

function wireControls(cluster: Cluster): void {
  let disconnected = false;
  $('#disconnect').addEventListener('click', () => {
    disconnected = !disconnected;
    void cluster.setDisconnected(disconnected);
  });
  $('#leave').addEventListener('click', () => {
    void cluster.close().then(() => text('#connection', `left room ${room}`));
  });
}

main().catch((error: unknown) => {
  text('#connection', `could not join: ${(error as Error).message}`);
});
