/**
 * The demo's message timeline panel: a lane per member, an arrow per message (send → receive,
 * matched by the vector clocks), elections and commits marked, and a ShiViz download.
 *
 * A tab records only its own member. The other lanes come from the other tabs of this browser in
 * the same room: turning the timeline on or off here turns it on or off there too, and they answer
 * a BroadcastChannel request with their rings. Members elsewhere (another browser, a Node member)
 * still get a lane, showing only the messages the gathered members exchanged with them.
 *
 * Bounded: the last DRAWN_EVENTS_MAX events are drawn, once per REFRESH_MS at most, and nothing
 * at all while the panel is off or the tab hidden.
 */
import type { Cluster } from '../src/client/connect.js';
import type { TimelineEvent } from '../src/runtime/timeline/events.js';
import {
  causalOrder,
  describeEvent,
  matchingSend,
  sendsByKey,
} from '../src/runtime/timeline/shiviz.js';

const DRAWN_EVENTS_MAX = 120;
const REFRESH_MS = 1000;
/** How long a request waits for the other tabs' rings. */
const REPLIES_WAIT_MS = 150;
/** Events a tab sends for the live view; a download asks for whole rings. */
const LIVE_EVENTS_PER_TAB = 400;

const LANE_HEIGHT = 44;
const LABEL_WIDTH = 96;
const STEP = 11;
const TOP = 18;

type ChannelMessage =
  | { readonly kind: 'record'; readonly on: boolean }
  /** A new tab asks whether the others record, so it joins them. */
  | { readonly kind: 'recording?' }
  | { readonly kind: 'ask'; readonly nonce: string; readonly limit: number }
  | { readonly kind: 'ring'; readonly nonce: string; readonly events: readonly unknown[] };

const SVG = 'http://www.w3.org/2000/svg';

export class TimelinePanel {
  private on = false;
  private readonly channel: BroadcastChannel;
  private readonly replies = new Map<string, TimelineEvent[]>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly toggle: HTMLButtonElement;
  private readonly download: HTMLButtonElement;
  private readonly svg: SVGSVGElement;
  private readonly info: HTMLElement;

  constructor(
    private readonly cluster: Cluster,
    room: string,
  ) {
    this.toggle = element<HTMLButtonElement>('#timeline-toggle');
    this.download = element<HTMLButtonElement>('#timeline-download');
    this.svg = element<SVGSVGElement>('#timeline-svg');
    this.info = element('#timeline-info');
    this.channel = new BroadcastChannel(`webraft-timeline:${room}`);
    this.channel.onmessage = (event: MessageEvent<ChannelMessage>) => void this.heard(event.data);
    this.toggle.addEventListener('click', () => {
      const on = !this.on;
      this.channel.postMessage({ kind: 'record', on } satisfies ChannelMessage);
      void this.set(on);
    });
    this.download.addEventListener('click', () => void this.saveShiViz());
    document.addEventListener('visibilitychange', () => this.schedule(0));
    this.channel.postMessage({ kind: 'recording?' } satisfies ChannelMessage);
  }

  /** Every gathered member's events (this tab's and the other tabs'), as one ShiViz log. */
  async exportShiViz(): Promise<string> {
    return this.cluster.timeline.exportShiViz(await this.othersEvents(Infinity));
  }

  private async set(on: boolean): Promise<void> {
    if (on === this.on) return;
    this.on = on;
    this.toggle.textContent = on ? 'Stop timeline' : 'Record timeline';
    this.toggle.setAttribute('aria-pressed', String(on));
    this.download.disabled = !on;
    if (on) {
      await this.cluster.timeline.start();
      this.schedule(0);
    } else {
      await this.cluster.timeline.stop();
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      this.svg.replaceChildren();
      this.info.textContent = '';
    }
  }

  private async heard(message: ChannelMessage): Promise<void> {
    switch (message.kind) {
      case 'record':
        return this.set(message.on);
      case 'recording?':
        if (this.on)
          this.channel.postMessage({ kind: 'record', on: true } satisfies ChannelMessage);
        return;
      case 'ask': {
        if (!this.on) return;
        const events = (await this.cluster.timeline.events()).slice(-message.limit);
        this.channel.postMessage({
          kind: 'ring',
          nonce: message.nonce,
          events,
        } satisfies ChannelMessage);
        return;
      }
      case 'ring':
        this.replies.get(message.nonce)?.push(...message.events.filter(isTimelineEvent));
        return;
    }
  }

  /** The other tabs' events: those that answer within REPLIES_WAIT_MS. */
  private async othersEvents(limit: number): Promise<TimelineEvent[]> {
    // Not crypto.randomUUID: it exists only in secure contexts, and the demo may be served over
    // plain http on a LAN address.
    const nonce = `${Date.now()}-${Math.random()}`;
    const gathered: TimelineEvent[] = [];
    this.replies.set(nonce, gathered);
    this.channel.postMessage({ kind: 'ask', nonce, limit } satisfies ChannelMessage);
    await new Promise((resolve) => setTimeout(resolve, REPLIES_WAIT_MS));
    this.replies.delete(nonce);
    return gathered;
  }

  private schedule(delayMs: number): void {
    if (!this.on || document.visibilityState === 'hidden') return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), delayMs);
  }

  private async refresh(): Promise<void> {
    this.timer = null;
    try {
      const own = (await this.cluster.timeline.events()).slice(-LIVE_EVENTS_PER_TAB);
      const events = [...own, ...(await this.othersEvents(LIVE_EVENTS_PER_TAB))];
      if (this.on && document.visibilityState !== 'hidden') this.draw(events);
    } finally {
      this.schedule(REFRESH_MS);
    }
  }

  private async saveShiViz(): Promise<void> {
    const text = await this.exportShiViz();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    link.download = `webraft-${this.cluster.room}-timeline.log`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  private draw(all: readonly TimelineEvent[]): void {
    const ordered = causalOrder(all).map(({ event }) => event);
    const shown = ordered.slice(-DRAWN_EVENTS_MAX);
    const lanes = lanesOf(shown, this.cluster.id);
    const laneY = new Map(lanes.map((id, i) => [id, TOP + i * LANE_HEIGHT + LANE_HEIGHT / 2]));
    const x = (i: number) => LABEL_WIDTH + 8 + i * STEP;
    const width = x(DRAWN_EVENTS_MAX) + 8;
    const height = TOP + lanes.length * LANE_HEIGHT;
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.svg.replaceChildren(
      arrowHead(),
      ...lanes.map((id) => lane(id, laneY.get(id)!, width, id === this.cluster.id)),
      ...arrows(shown, x, laneY),
      ...shown.map((event, i) => glyph(event, x(i), laneY.get(event.member)!)),
    );
    this.info.textContent =
      `last ${shown.length} of ${ordered.length} events gathered, ${lanes.length} lanes ` +
      '(heartbeats left out)';
  }
}

/** This member first, then every member an event names, sorted. */
function lanesOf(events: readonly TimelineEvent[], self: string): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    ids.add(event.member);
    if (event.kind === 'send') ids.add(event.to);
    if (event.kind === 'receive') ids.add(event.from);
  }
  ids.delete(self);
  return [self, ...[...ids].sort()];
}

function lane(id: string, y: number, width: number, self: boolean): SVGElement {
  const group = svg('g', {
    class: 'timeline-lane',
    'data-testid': 'timeline-lane',
    'data-member': id,
  });
  const label = svg('text', { x: 6, y: y + 4, class: self ? 'lane-label self' : 'lane-label' });
  label.textContent = id.length > 12 ? `${id.slice(0, 11)}…` : id;
  group.append(
    label,
    svg('line', { x1: LABEL_WIDTH, x2: width, y1: y, y2: y, class: 'lane-line' }),
  );
  return group;
}

/** One arrow per message: solid when both ends are drawn, a dashed stub when one end is not. */
function arrows(
  shown: readonly TimelineEvent[],
  x: (i: number) => number,
  laneY: ReadonlyMap<string, number>,
): SVGElement[] {
  const index = new Map(shown.map((event, i) => [event, i]));
  const sends = sendsByKey(shown);
  const answered = new Set<TimelineEvent>();
  const out: SVGElement[] = [];
  for (const [i, event] of shown.entries()) {
    if (event.kind !== 'receive') continue;
    const send = matchingSend(event, sends);
    const to = { x: x(i), y: laneY.get(event.member)! };
    if (send !== null) {
      answered.add(send);
      const from = { x: x(index.get(send)!), y: laneY.get(send.member)! };
      out.push(arrow(from, to, event.type, false));
    } else {
      out.push(arrow({ x: to.x - STEP, y: laneY.get(event.from)! }, to, event.type, true));
    }
  }
  for (const [i, event] of shown.entries()) {
    if (event.kind !== 'send' || answered.has(event)) continue;
    const from = { x: x(i), y: laneY.get(event.member)! };
    const target = laneY.get(event.to)!;
    out.push(arrow(from, { x: from.x + STEP, y: (from.y + target) / 2 }, event.type, true));
  }
  return out;
}

function arrow(
  from: { x: number; y: number },
  to: { x: number; y: number },
  type: string,
  stub: boolean,
): SVGElement {
  return svg('line', {
    x1: from.x,
    y1: from.y,
    x2: to.x,
    y2: to.y,
    class: `arrow arrow-${family(type)}${stub ? ' stub' : ''}`,
    'marker-end': 'url(#timeline-arrow)',
  });
}

/** Colours by what a message is for. */
function family(type: string): string {
  if (type.includes('ote')) return 'vote';
  if (type.startsWith('append') || type === 'forward') return 'append';
  if (type.startsWith('snapshot')) return 'snapshot';
  return 'other';
}

function glyph(event: TimelineEvent, x: number, y: number): SVGElement {
  const title = svg('title', {});
  title.textContent = describeEvent(event);
  const group = svg('g', { class: `event event-${event.kind}` });
  group.append(title);
  switch (event.kind) {
    case 'send':
    case 'receive':
      group.append(svg('circle', { cx: x, cy: y, r: 2.2, class: 'dot' }));
      break;
    case 'role':
      if (event.role === 'follower') {
        group.append(svg('line', { x1: x, x2: x, y1: y - 6, y2: y + 6, class: 'follower-tick' }));
        break;
      }
      group.setAttribute('data-testid', 'timeline-election');
      group.classList.add('mark', `mark-${event.role}`);
      group.append(svg('circle', { cx: x, cy: y, r: 7 }));
      group.append(
        label(
          x,
          y + 3.5,
          event.role === 'leader' ? 'L' : event.role === 'candidate' ? 'C' : 'P',
          'mark-letter',
        ),
      );
      group.append(label(x, y - 10, `t${event.term}`, 'mark-term'));
      break;
    case 'commit':
      group.setAttribute('data-testid', 'timeline-commit');
      group.classList.add('mark');
      group.append(svg('rect', { x: x - 3.5, y: y + 5, width: 7, height: 7 }));
      group.append(label(x, y + 21, String(event.index), 'mark-index'));
      break;
    case 'snapshot':
    case 'membership':
      group.classList.add('mark');
      group.append(svg('path', { d: `M${x} ${y - 7}L${x + 6} ${y}L${x} ${y + 7}L${x - 6} ${y}Z` }));
      break;
    case 'start':
    case 'stop':
      group.append(svg('line', { x1: x, x2: x, y1: y - 12, y2: y + 12, class: 'lifecycle' }));
      break;
  }
  return group;
}

function label(x: number, y: number, content: string, className: string): SVGElement {
  const text = svg('text', { x, y, class: className, 'text-anchor': 'middle' });
  text.textContent = content;
  return text;
}

function arrowHead(): SVGElement {
  const defs = svg('defs', {});
  const marker = svg('marker', {
    id: 'timeline-arrow',
    viewBox: '0 0 6 6',
    refX: 6,
    refY: 3,
    markerWidth: 5,
    markerHeight: 5,
    orient: 'auto-start-reverse',
  });
  marker.append(svg('path', { d: 'M0 0L6 3L0 6Z', class: 'arrow-head' }));
  defs.append(marker);
  return defs;
}

function svg(name: string, attributes: Readonly<Record<string, string | number>>): SVGElement {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function element<T extends Element = HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (found === null) throw new Error(`missing ${selector}`);
  return found;
}

/** Another tab's word, checked enough that drawing and exporting cannot throw on it. */
function isTimelineEvent(value: unknown): value is TimelineEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { member, kind, timeMs, clock } = value as Record<string, unknown>;
  if (typeof member !== 'string' || typeof kind !== 'string' || typeof timeMs !== 'number')
    return false;
  if (typeof clock !== 'object' || clock === null) return false;
  const own = (clock as Record<string, unknown>)[member];
  if (typeof own !== 'number' || !Number.isSafeInteger(own) || own < 1) return false;
  const event = value as Record<string, unknown>;
  if (kind === 'send') return typeof event['to'] === 'string' && typeof event['type'] === 'string';
  if (kind === 'receive')
    return (
      typeof event['from'] === 'string' &&
      typeof event['type'] === 'string' &&
      (event['sentAt'] === null || typeof event['sentAt'] === 'number')
    );
  if (kind === 'membership')
    return Array.isArray(event['voters']) && Array.isArray(event['learners']);
  if (kind === 'role') return typeof event['role'] === 'string';
  return ['commit', 'snapshot', 'start', 'stop'].includes(kind);
}
