/**
 * The demo page: joins a room (`?room=NAME`, default `demo`; `&voters=5` for another voter
 * target, `&signal=URL` for another signaling server) through the signaling server, shows
 * the replicated key-value state live, this member's view of the cluster and its log, and offers
 * puts, deletes, a disconnect switch (fault injection) and a graceful leave. `window.webraft` is
 * the connected cluster handle, for automation; `data-testid` attributes are stable hooks.
 */
import { connect } from '../src/client/connect.js';
import type { Cluster, ClusterStatus } from '../src/client/connect.js';
import { checkVotersTarget } from '../src/client/autopilot.js';
import type { JsonValue } from '../src/state/kv-types.js';

declare global {
  interface Window {
    webraft?: Cluster;
  }
}

const $ = <T extends HTMLElement>(selector: string): T => {
  const element = document.querySelector<T>(selector);
  if (element === null) throw new Error(`missing ${selector}`);
  return element;
};
const text = (selector: string, value: string): void => {
  $(selector).textContent = value;
};

const params = new URLSearchParams(location.search);
const room = params.get('room') ?? 'demo';
const signalingUrl = params.get('signal') ?? undefined;
const voters = params.get('voters');

async function main(): Promise<void> {
  text('#connection', `joining room ${room}…`);
  const cluster = await connect({
    room,
    ...(signalingUrl ? { signalingUrl } : {}),
    ...(voters ? { votersTarget: checkVotersTarget(Number(voters)) } : {}),
  });
  window.webraft = cluster;
  text('#connection', `room ${room}`);
  text('[data-testid="member-id"]', cluster.id);
  const table = new StateTable(cluster);
  await table.load();
  cluster.onStatus((status) => {
    renderStatus(status);
    void renderLog(cluster);
  });
  wireForm(cluster);
  wireControls(cluster);
  // Hidden or reloading: hand over and stop, but let the grace period decide about removal.
  addEventListener('pagehide', () => void cluster.close({ leave: false }));
}

/**
 * The replicated state as a table, kept from the committed changes themselves: no query per
 * change, and at most one render per frame interval however fast changes arrive (a busy cluster
 * applies thousands a second).
 */
class StateTable {
  private readonly rows = new Map<string, { value: JsonValue; version: number }>();
  /** Keys a change has touched: newer than what a concurrent first load may bring. */
  private readonly changed = new Set<string>();
  private loaded = false;
  private renderTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly cluster: Cluster) {}

  async load(): Promise<void> {
    // Subscribe first, so no change falls between the load and the subscription.
    this.cluster.subscribe((changes) => {
      for (const { key, value, version } of changes) {
        if (!this.loaded) this.changed.add(key);
        if (value === null) this.rows.delete(key);
        else this.rows.set(key, { value, version });
      }
      this.schedule();
    });
    for (const { key, value, version } of await this.cluster.kv.entries()) {
      if (!this.changed.has(key)) this.rows.set(key, { value, version });
    }
    this.loaded = true; // From now on the changes alone keep the table.
    this.changed.clear();
    this.render();
  }

  private schedule(): void {
    this.renderTimer ??= setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, RENDER_INTERVAL_MS);
  }

  private render(): void {
    const keys = [...this.rows.keys()].sort().slice(0, ROWS_SHOWN_MAX);
    const rows = keys.map((key) => {
      const { value, version } = this.rows.get(key)!;
      const row = document.createElement('tr');
      row.dataset['testid'] = 'kv-row';
      row.dataset['key'] = key;
      for (const cell of [key, JSON.stringify(value), String(version)]) {
        const td = document.createElement('td');
        td.textContent = cell;
        row.append(td);
      }
      return row;
    });
    $('#kv-rows').replaceChildren(...rows);
  }
}

/** A render per this many ms at most. */
const RENDER_INTERVAL_MS = 50;
/** Rows the table shows (sorted by key); the rest stay in the state. */
const ROWS_SHOWN_MAX = 1000;

function renderStatus(status: ClusterStatus): void {
  const role = $('[data-testid="role"]');
  role.textContent = status.failure === null ? status.role : `stopped (${status.failure.code})`;
  role.className = `role-${status.role}`;
  text('[data-testid="term"]', String(status.term));
  text('[data-testid="leader-id"]', status.leaderId ?? 'none');
  text('[data-testid="commit-index"]', String(status.commitIndex));
  text('#applied-index', String(status.appliedIndex));
  text('#voters', status.voters.join(', ') || '–');
  text('#learners', status.learners.join(', ') || '–');
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
  const { pauses, page } = status;
  text(
    '#pauses',
    pauses.last === null
      ? `none${page.visibility === 'hidden' ? ' (page hidden)' : ''}`
      : `${pauses.count}, last ${Math.round(pauses.last.durationMs)} ms, ` +
          `longest ${Math.round(pauses.longestMs)} ms; ${page.handOffs} hand-offs`,
  );
  const peers = status.peers.map(({ id, state }) => {
    const item = document.createElement('li');
    const linked = status.connected.includes(id) ? 'linked' : 'not linked';
    item.textContent = `${id}: ${state}, ${linked}`;
    return item;
  });
  $('#peers').replaceChildren(...peers);
  const { votersTarget, decisions } = status.autopilot;
  text(
    '#autopilot-target',
    `target ${votersTarget} voters${status.role === 'leader' ? '' : ' (decides while leading)'}`,
  );
  const recent = decisions.slice(-5).map((decision) => {
    const item = document.createElement('li');
    item.textContent = `${decision.change}: ${decision.reason} (${decision.outcome})`;
    return item;
  });
  $('#autopilot-decisions').replaceChildren(...recent);
  $('#disconnect').textContent = status.isolated ? 'Reconnect' : 'Disconnect';
}

async function renderLog(cluster: Cluster): Promise<void> {
  const lines = (await cluster.recentLog(15)).map((line) => {
    const item = document.createElement('li');
    item.value = line.index;
    item.textContent = `t${line.term} ${line.summary}`;
    return item;
  });
  $('#log-lines').replaceChildren(...lines);
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
