/**
 * The plots of a bench run, drawn from bench/results/latest.json as hand-written SVG (no plotting
 * library) and rendered to PNG by headless Chromium:
 *   latency-cdf  one CDF per latency metric with `samples` (plus `notes.theirsSamples`, the other
 *                side of a comparison, and `notes.samplesByMode`, one curve per read mode)
 *   throughput   ops/s vs concurrent proposals, from the `series` of `throughput`, baseline dashed
 *   scale        commit p50 vs members, from the `series` of `scale`, 3-tab commit p50 dashed
 * A plot whose data is absent is skipped, not failed. The SVG is a pure function of the results.
 * Alone: `npx tsx bench/plots.ts [results.json] [dir]`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResults, MetricResult } from './results.js';
import { percentile } from './stats.js';

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Axis {
  readonly label: string;
  readonly kind: 'linear' | 'log';
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly number[];
}

/** One line of a chart: a CDF (`step`), a measured series (`line`) or a baseline (`dashed`). */
export interface Curve {
  readonly name: string;
  /** A second, smaller legend line (p50, sample count, …). */
  readonly detail?: string;
  readonly points: readonly Point[];
  readonly style: 'step' | 'line' | 'dashed';
}

export interface Chart {
  /** The file name without extension, and the SVG's element ids. */
  readonly id: string;
  readonly title: string;
  readonly subtitle: string;
  readonly x: Axis;
  readonly y: Axis;
  readonly curves: readonly Curve[];
}

export const WIDTH = 720;
export const HEIGHT = 420;
/** The plot area; the legend sits in the column to its right, so it never covers a curve. */
const PLOT = { left: 64, top: 66, right: 520, bottom: 364 } as const;
/** Characters per legend line: what fits right of the plot in DejaVu Sans, the widest fallback. */
const LEGEND_CHARS = 20;
/** Beyond this max/min ratio an axis of positive values is logarithmic. */
const LOG_SPREAD_MIN = 20;
/** CDF points kept per curve: enough for a smooth step at 720 px, not a 100 kB path. */
const CDF_POINTS_MAX = 400;
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
/** Okabe–Ito, readable by colour-blind readers and on white. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const BASELINE_COLOR = '#57606a';

/**
 * The empirical CDF of `samples` (non-finite values dropped): for each distinct value x, the
 * fraction y of samples <= x, ascending. More than `pointsMax` points are thinned to evenly
 * spaced fractions, always keeping the first and the last.
 */
export function cdfPoints(samples: readonly number[], pointsMax = CDF_POINTS_MAX): Point[] {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const points: Point[] = [];
  sorted.forEach((x, i) => {
    const y = (i + 1) / sorted.length;
    if (points.at(-1)?.x === x) points[points.length - 1] = { x, y };
    else points.push({ x, y });
  });
  if (points.length <= pointsMax) return points;
  const thinned: Point[] = [];
  let next = 0;
  for (const [i, point] of points.entries()) {
    if (point.y >= next || i === points.length - 1) {
      thinned.push(point);
      next = point.y + 1 / (pointsMax - 1);
    }
  }
  return thinned;
}

/** Rounds away binary noise (0.30000000000000004 → 0.3) so ticks print and compare cleanly. */
const clean = (value: number): number => Number(value.toPrecision(12));

/** Ticks 1, 2 or 5 × 10^k apart covering [min, max], about `count` of them, and the bounds. */
export function niceTicks(min: number, max: number, count = 5): Axis['ticks'] {
  if (!(max > min))
    [min, max] = min === 0 ? [0, 1] : [min - Math.abs(min) / 2, max + Math.abs(max) / 2];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let k = Math.floor(min / step); k <= Math.ceil(max / step); k++) ticks.push(clean(k * step));
  return ticks;
}

/** Ticks at 1, 2, 5 × 10^k (only the powers of ten past three decades) covering [min, max]. */
export function logTicks(min: number, max: number): Axis['ticks'] {
  if (!(min > 0) || !(max >= min))
    throw new Error(`log ticks need 0 < min <= max, got ${min}, ${max}`);
  const decades = Math.log10(max / min);
  const mantissas = decades > 3 ? [1] : [1, 2, 5];
  const all: number[] = [];
  for (let k = Math.floor(Math.log10(min)) - 1; k <= Math.ceil(Math.log10(max)); k++) {
    for (const m of mantissas) all.push(clean(m * 10 ** k));
  }
  const below = all.filter((t) => t <= min).at(-1) ?? min;
  const above = all.find((t) => t >= max) ?? max;
  return all.filter((t) => t >= below && t <= above);
}

/** Logarithmic when every value is positive and they spread over more than 20×. */
export function chooseScale(values: readonly number[]): Axis['kind'] {
  const min = Math.min(...values);
  return min > 0 && Math.max(...values) / min > LOG_SPREAD_MIN ? 'log' : 'linear';
}

/** An axis over `values`: log or linear by spread, from zero when `fromZero` (and linear). */
export function axisFor(label: string, values: readonly number[], fromZero = false): Axis {
  const kind = fromZero ? 'linear' : chooseScale(values);
  const low = fromZero ? Math.min(0, ...values) : Math.min(...values);
  const ticks =
    kind === 'log' ? logTicks(low, Math.max(...values)) : niceTicks(low, Math.max(...values));
  return { label, kind, min: ticks[0]!, max: ticks.at(-1)!, ticks };
}

/** An x axis ticked at the series' own x values (1, 2, 4, 8… proposals; 3, 5, 7 members). */
function seriesAxis(label: string, xs: readonly number[]): Axis {
  const ticks = [...new Set(xs)].sort((a, b) => a - b);
  if (ticks.length > 12) return axisFor(label, xs);
  const kind = chooseScale(ticks);
  const [min, max] = [ticks[0]!, ticks.at(-1)!];
  if (kind === 'log') {
    const pad = (max / min) ** 0.04;
    return { label, kind, min: min / pad, max: max * pad, ticks };
  }
  const pad = max > min ? (max - min) * 0.04 : 1;
  return { label, kind, min: min - pad, max: max + pad, ticks };
}

/** 0.5 → "0.5", 2500 → "2500", 12000 → "12k", 3e6 → "3M"; `thousands` writes 2500 as "2.5k". */
export function formatTick(value: number, thousands = Math.abs(value) >= 1e4): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${clean(value / 1e6)}M`;
  if (thousands && abs >= 1e3) return `${clean(value / 1e3)}k`;
  return String(clean(value));
}

/** The labels of an axis's ticks, in thousands throughout when any reaches 10k (5k, 10k, 15k). */
export function formatTicks(ticks: readonly number[]): string[] {
  const thousands = ticks.some((t) => Math.abs(t) >= 1e4);
  return ticks.map((t) => formatTick(t, thousands));
}

/** A number for a legend: three significant digits. */
const formatValue = (value: number): string => formatTick(Number(value.toPrecision(3)));

const isSampleArray = (value: unknown): value is number[] =>
  Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');

/** The CDF curves of every latency in `results`, in metric order (theirs after ours). */
export function latencyCurves(results: BenchResults): Curve[] {
  const curves: Curve[] = [];
  const add = (name: string, samples: readonly number[]): void => {
    const finite = samples.filter(Number.isFinite);
    if (finite.length === 0) return;
    const p50 = formatValue(percentile(finite, 0.5));
    const detail = `p50 ${p50} ms · n ${finite.length}`;
    curves.push({ name, detail, points: cdfPoints(finite), style: 'step' });
  };
  for (const metric of results.metrics) {
    const notes = metric.notes ?? {};
    const mode = typeof notes['mode'] === 'string' ? ` (${notes['mode']})` : '';
    const theirs = notes['theirsSamples'];
    if (metric.samples !== undefined) {
      add(`${metric.name}${mode}${isSampleArray(theirs) ? ' (ours)' : ''}`, metric.samples);
    }
    if (isSampleArray(theirs)) add(`${metric.name}${mode} (theirs)`, theirs);
    const byMode = notes['samplesByMode'];
    if (typeof byMode === 'object' && byMode !== null) {
      for (const [key, samples] of Object.entries(byMode)) {
        if (isSampleArray(samples)) add(`${metric.name} (${key})`, samples);
      }
    }
  }
  return curves;
}

/** The subtitle every chart shares: when and where the run was. */
function runSummary(results: BenchResults): string {
  const { machine } = results;
  const cpu = machine.cpuModel.length > 40 ? `${machine.cpuModel.slice(0, 39)}…` : machine.cpuModel;
  const parts = [results.startedAt.slice(0, 10), `${machine.cpus}× ${cpu}`];
  parts.push(`Chromium ${machine.chromium}`, `Node ${machine.node}`);
  if (results.quick) parts.push('quick run');
  return parts.join(' · ');
}

/** The latency CDF chart, or null when no metric has samples. */
export function latencyChart(results: BenchResults): Chart | null {
  const curves = latencyCurves(results);
  if (curves.length === 0) return null;
  const xs = curves.flatMap((curve) => curve.points.map((p) => p.x));
  return {
    id: 'latency-cdf',
    title: 'Latency CDF',
    subtitle: runSummary(results),
    x: axisFor('latency (ms)', xs),
    y: {
      label: 'fraction of samples',
      kind: 'linear',
      // A little room past 0 and 1, so the ends of the curves are not drawn on the frame.
      min: -0.02,
      max: 1.02,
      ticks: [0, 0.25, 0.5, 0.75, 1],
    },
    curves,
  };
}

interface SeriesChartOptions {
  readonly metric: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly unit: string;
}

/** A measured series with its baseline dashed across, or null without a series. */
function seriesChart(results: BenchResults, options: SeriesChartOptions): Chart | null {
  const metric: MetricResult | undefined = results.metrics.find((m) => m.name === options.metric);
  const series = (metric?.series ?? []).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (metric === undefined || series.length === 0) return null;
  const points = [...series].sort((a, b) => a.x - b.x);
  const baseline =
    metric.baseline !== null && Number.isFinite(metric.baseline.value) ? metric.baseline : null;
  const ys = points.map((p) => p.y).concat(baseline === null ? [] : [baseline.value]);
  const xLabel =
    typeof metric.notes?.['xLabel'] === 'string' ? metric.notes['xLabel'] : options.xLabel;
  const x = seriesAxis(
    xLabel,
    points.map((p) => p.x),
  );
  const best = formatValue(Math.max(...points.map((p) => p.y)));
  const curves: Curve[] = [
    { name: metric.name, detail: `max ${best} ${options.unit}`, points, style: 'line' },
  ];
  if (baseline !== null) {
    const detail = `${formatValue(baseline.value)} ${options.unit}`;
    const across = [
      { x: x.min, y: baseline.value },
      { x: x.max, y: baseline.value },
    ];
    curves.push({
      name: `baseline: ${baseline.description}`,
      detail,
      points: across,
      style: 'dashed',
    });
  }
  return {
    id: options.metric,
    title: options.title,
    subtitle: runSummary(results),
    x,
    y: axisFor(options.yLabel, ys, true),
    curves,
  };
}

/** Every chart the results have data for, and a sentence for each one skipped. */
export function buildCharts(results: BenchResults): { charts: Chart[]; skipped: string[] } {
  const attempts: [string, Chart | null][] = [
    ['latency-cdf: no metric has samples', latencyChart(results)],
    [
      "throughput: no metric 'throughput' with a series",
      seriesChart(results, {
        metric: 'throughput',
        title: 'Throughput vs concurrency',
        xLabel: 'concurrent proposals',
        yLabel: 'ops/s',
        unit: 'ops/s',
      }),
    ],
    [
      "scale: no metric 'scale' with a series",
      seriesChart(results, {
        metric: 'scale',
        title: 'Commit latency vs members',
        xLabel: 'members',
        yLabel: 'commit p50 (ms)',
        unit: 'ms',
      }),
    ],
  ];
  return {
    charts: attempts.flatMap(([, chart]) => (chart === null ? [] : [chart])),
    skipped: attempts.flatMap(([why, chart]) => (chart === null ? [`skipped ${why}`] : [])),
  };
}

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Pixels, to a tenth: short paths, and the same text for the same input. */
const px = (value: number): string => String(Number(value.toFixed(1)));

/** Maps a value on `axis` to pixels between `from` (axis.min) and `to` (axis.max). */
function scale(axis: Axis, from: number, to: number): (value: number) => number {
  const f = axis.kind === 'log' ? Math.log10 : (v: number): number => v;
  const [lo, hi] = [f(axis.min), f(axis.max)];
  return (value) => from + ((f(value) - lo) / (hi - lo || 1)) * (to - from);
}

/** Splits `text` into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= width)
      lines[lines.length - 1] = `${last} ${word}`;
    else for (let i = 0; i < word.length; i += width) lines.push(word.slice(i, i + width));
  }
  return lines;
}

function curvePath(curve: Curve, sx: (v: number) => number, sy: (v: number) => number): string {
  const [first, ...rest] = curve.points;
  if (first === undefined) return '';
  if (curve.style !== 'step') {
    return (
      `M${px(sx(first.x))} ${px(sy(first.y))}` +
      rest.map((p) => `L${px(sx(p.x))} ${px(sy(p.y))}`).join('')
    );
  }
  // A CDF rises from 0 at its first sample and is flat between samples.
  let path = `M${px(sx(first.x))} ${px(sy(0))}V${px(sy(first.y))}`;
  for (const p of rest) path += `H${px(sx(p.x))}V${px(sy(p.y))}`;
  return path;
}

function axesSvg(chart: Chart, sx: (v: number) => number, sy: (v: number) => number): string[] {
  const out: string[] = [];
  const xLabels = formatTicks(chart.x.ticks);
  chart.x.ticks.forEach((t, i) => {
    const x = px(sx(t));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#eaeef2"/>`);
    out.push(
      `<line x1="${x}" y1="${PLOT.bottom}" x2="${x}" y2="${PLOT.bottom + 5}" stroke="#57606a"/>`,
    );
    out.push(`<text x="${x}" y="${PLOT.bottom + 19}" text-anchor="middle">${xLabels[i]}</text>`);
  });
  const yLabels = formatTicks(chart.y.ticks);
  chart.y.ticks.forEach((t, i) => {
    const y = px(sy(t));
    out.push(`<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#eaeef2"/>`);
    out.push(
      `<line x1="${PLOT.left - 5}" y1="${y}" x2="${PLOT.left}" y2="${y}" stroke="#57606a"/>`,
    );
    out.push(
      `<text x="${PLOT.left - 8}" y="${y}" dy="0.32em" text-anchor="end">${yLabels[i]}</text>`,
    );
  });
  const [w, h] = [PLOT.right - PLOT.left, PLOT.bottom - PLOT.top];
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${w}" height="${h}" fill="none" stroke="#57606a"/>`,
  );
  const log = (axis: Axis): string => (axis.kind === 'log' ? ', log scale' : '');
  const xMid = px((PLOT.left + PLOT.right) / 2);
  out.push(
    `<text x="${xMid}" y="${PLOT.bottom + 40}" text-anchor="middle" font-size="13" fill="#1f2328">${escapeXml(chart.x.label + log(chart.x))}</text>`,
  );
  const yMid = px((PLOT.top + PLOT.bottom) / 2);
  out.push(
    `<text transform="translate(18 ${yMid}) rotate(-90)" text-anchor="middle" font-size="13" fill="#1f2328">${escapeXml(chart.y.label + log(chart.y))}</text>`,
  );
  return out;
}

const curveColor = (curve: Curve, index: number): string =>
  curve.style === 'dashed' ? BASELINE_COLOR : PALETTE[index % PALETTE.length]!;

const dashArray = (curve: Curve): string =>
  curve.style === 'dashed' ? ' stroke-dasharray="6 4"' : '';

/** The legend column, one entry per curve; entries that would run off the bottom are counted. */
function legendSvg(chart: Chart): string[] {
  const out: string[] = [];
  const [left, text] = [PLOT.right + 16, PLOT.right + 46];
  let y = PLOT.top + 6;
  for (const [i, curve] of chart.curves.entries()) {
    const lines = wrap(curve.name, LEGEND_CHARS);
    if (y + 15 * (lines.length + (curve.detail === undefined ? 0 : 1)) > HEIGHT - 8) {
      out.push(`<text x="${text}" y="${y}" dy="0.35em">+${chart.curves.length - i} more</text>`);
      break;
    }
    const color = curveColor(curve, i);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${left + 22}" y2="${y}" stroke="${color}" stroke-width="2.5"${dashArray(curve)}/>`,
    );
    if (curve.style === 'line')
      out.push(`<circle cx="${left + 11}" cy="${y}" r="3.5" fill="${color}"/>`);
    for (const line of lines) {
      out.push(`<text x="${text}" y="${y}" dy="0.35em" fill="#1f2328">${escapeXml(line)}</text>`);
      y += 15;
    }
    if (curve.detail !== undefined) {
      out.push(
        `<text x="${text}" y="${y - 1}" dy="0.35em" font-size="11">${escapeXml(curve.detail)}</text>`,
      );
      y += 15;
    }
    y += 8;
  }
  return out;
}

/** The chart as a standalone SVG document, 720×420, on white so it reads in dark mode too. */
export function renderSvg(chart: Chart): string {
  const sx = scale(chart.x, PLOT.left, PLOT.right);
  const sy = scale(chart.y, PLOT.bottom, PLOT.top);
  const clip = `${chart.id}-plot`;
  const [w, h] = [PLOT.right - PLOT.left, PLOT.bottom - PLOT.top];
  const curves = chart.curves.map((curve, i) => {
    const [color, dash] = [curveColor(curve, i), dashArray(curve)];
    const path = `<path d="${curvePath(curve, sx, sy)}" fill="none" stroke="${color}" stroke-width="2"${dash} stroke-linejoin="round"/>`;
    if (curve.style !== 'line') return path;
    const dots = curve.points.map(
      (p) => `<circle cx="${px(sx(p.x))}" cy="${px(sy(p.y))}" r="3.5" fill="${color}"/>`,
    );
    return [path, ...dots].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}" font-size="12" fill="#59636e" role="img" aria-labelledby="${chart.id}-title">`,
    `<title id="${chart.id}-title">${escapeXml(chart.title)}</title>`,
    `<defs><clipPath id="${clip}"><rect x="${PLOT.left}" y="${PLOT.top}" width="${w}" height="${h}"/></clipPath></defs>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="16" y="28" font-size="17" font-weight="600" fill="#1f2328">${escapeXml(chart.title)}</text>`,
    `<text x="16" y="46">${escapeXml(chart.subtitle)}</text>`,
    ...axesSvg(chart, sx, sy),
    `<g clip-path="url(#${clip})">`,
    ...curves,
    '</g>',
    ...legendSvg(chart),
    '</svg>',
    '',
  ].join('\n');
}

/** Screenshots each SVG in headless Chromium at device scale factor 2, to each `path`. */
async function renderPngs(svgs: readonly { svg: string; path: string }[]): Promise<string[]> {
  // Loaded here, not at the top: the pure half of this module (and its unit tests) needs no browser.
  const { chromium } = await import('playwright-core');
  const { CHROMIUM_PATH } = await import('../test/e2e/chromium.js');
  // The flags of test/e2e/chromium.ts, which does not export them.
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
  try {
    const context = await browser.newContext({
      deviceScaleFactor: 2,
      viewport: { width: WIDTH, height: HEIGHT },
    });
    const page = await context.newPage();
    const written: string[] = [];
    for (const { svg, path } of svgs) {
      await page.setContent(
        `<!doctype html><html><body style="margin:0;background:#fff">${svg}</body></html>`,
      );
      await page.evaluate(() => document.fonts.ready);
      await page.locator('svg').first().screenshot({ path });
      written.push(path);
    }
    return written;
  } finally {
    await browser.close();
  }
}

/**
 * Writes `<id>.svg` and `<id>.png` into `dir` for every chart the results have data for; logs
 * the ones skipped. A browser that cannot start costs the PNGs (logged), not the SVGs.
 * Returns the paths written.
 */
export async function writePlots(results: BenchResults, dir: string): Promise<string[]> {
  const { charts, skipped } = buildCharts(results);
  for (const line of skipped) console.log(`plots: ${line}`);
  await mkdir(dir, { recursive: true });
  const svgs = charts.map((chart) => ({ svg: renderSvg(chart), base: join(dir, chart.id) }));
  const written: string[] = [];
  for (const { svg, base } of svgs) {
    await writeFile(`${base}.svg`, svg);
    written.push(`${base}.svg`);
  }
  if (svgs.length === 0) return written;
  try {
    written.push(
      ...(await renderPngs(svgs.map(({ svg, base }) => ({ svg, path: `${base}.png` })))),
    );
  } catch (error) {
    console.error(`plots: no PNGs, Chromium failed: ${(error as Error).message}`);
  }
  return written;
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? 'bench/results/latest.json';
  const dir = process.argv[3] ?? dirname(file);
  const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
  for (const path of await writePlots(results, dir)) console.log(`plots: wrote ${path}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
