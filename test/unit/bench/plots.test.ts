/**
 * The pure half of bench/plots.ts: CDF points, axis ticks and scales, and the SVG drawn for a
 * fixture run (test/unit/bench/fixture-results.json). Rendering PNGs in Chromium is not tested here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  axisFor,
  buildCharts,
  cdfPoints,
  chooseScale,
  formatTick,
  formatTicks,
  latencyCurves,
  logTicks,
  niceTicks,
  renderSvg,
  wrap,
} from '../../../bench/plots.js';
import type { BenchResults, MetricResult } from '../../../bench/results.js';

const fixture = JSON.parse(
  readFileSync(new URL('./fixture-results.json', import.meta.url), 'utf8'),
) as BenchResults;

const withMetrics = (metrics: MetricResult[]): BenchResults => ({ ...fixture, metrics });

const latency = (name: string, samples: number[], notes?: MetricResult['notes']): MetricResult => ({
  name,
  unit: 'ms',
  values: {},
  baseline: null,
  ratio: null,
  goal: null,
  met: null,
  samples,
  ...(notes === undefined ? {} : { notes }),
});

/** Tag names of `svg` in order, with closing tags as `/name`; self-closing tags are dropped. */
function tagStack(svg: string): string[] {
  const stack: string[] = [];
  for (const [, close, name, selfClose] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClose === '/') continue;
    if (close === '/') {
      expect(stack.pop()).toBe(name);
    } else {
      stack.push(name!);
    }
  }
  return stack;
}

describe('cdfPoints', () => {
  it('gives, for each distinct sample, the fraction of samples at or below it', () => {
    expect(cdfPoints([3, 1, 2, 2])).toEqual([
      { x: 1, y: 0.25 },
      { x: 2, y: 0.75 },
      { x: 3, y: 1 },
    ]);
  });

  it('drops non-finite samples and gives nothing for no samples', () => {
    expect(cdfPoints([Number.NaN, 5, Number.POSITIVE_INFINITY])).toEqual([{ x: 5, y: 1 }]);
    expect(cdfPoints([])).toEqual([]);
  });

  it('thins many samples to at most pointsMax, keeping both ends and rising monotonically', () => {
    const samples = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 10_000);
    const points = cdfPoints(samples, 100);
    expect(points.length).toBeLessThanOrEqual(100);
    expect(points[0]).toEqual({ x: 0, y: 1 / 10_000 });
    expect(points.at(-1)).toEqual({ x: 9999, y: 1 });
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.x).toBeGreaterThan(points[i - 1]!.x);
      expect(points[i]!.y).toBeGreaterThan(points[i - 1]!.y);
    }
  });
});

describe('axis ticks', () => {
  it('niceTicks steps by 1, 2 or 5 × 10^k and covers the range', () => {
    expect(niceTicks(0, 14_200)).toEqual([0, 5000, 10_000, 15_000]);
    expect(niceTicks(0.12, 0.93)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3.2, 8.1)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('niceTicks widens an empty range instead of dividing by zero', () => {
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const ticks = niceTicks(4, 4);
    expect(ticks[0]).toBeLessThan(4);
    expect(ticks.at(-1)).toBeGreaterThan(4);
  });

  it('logTicks uses 1-2-5 within three decades and powers of ten beyond', () => {
    expect(logTicks(0.8, 30)).toEqual([0.5, 1, 2, 5, 10, 20, 50]);
    expect(logTicks(0.02, 900)).toEqual([0.01, 0.1, 1, 10, 100, 1000]);
  });

  it('an axis is logarithmic only for positive values spread more than 20×', () => {
    expect(chooseScale([1, 20])).toBe('linear');
    expect(chooseScale([1, 21])).toBe('log');
    expect(chooseScale([0, 100])).toBe('linear');
    expect(axisFor('ms', [0.3, 40]).kind).toBe('log');
    expect(axisFor('ops/s', [0.3, 40], true)).toMatchObject({ kind: 'linear', min: 0 });
  });

  it('tick labels are short and consistent along an axis', () => {
    expect(formatTick(0.1 + 0.2)).toBe('0.3');
    expect(formatTick(2500)).toBe('2500');
    expect(formatTick(3_000_000)).toBe('3M');
    expect(formatTicks([0, 5000, 10_000, 15_000])).toEqual(['0', '5k', '10k', '15k']);
  });

  it('legend text wraps at spaces, and splits a word longer than a line', () => {
    expect(wrap('baseline: unreplicated state machine', 20)).toEqual([
      'baseline:',
      'unreplicated state',
      'machine',
    ]);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('latency curves', () => {
  it('draws ours and theirs for a comparison, and one curve per read mode', () => {
    const names = latencyCurves(fixture).map((curve) => curve.name);
    expect(names).toEqual([
      'rtt',
      'idb',
      'commit_latency',
      'vs_ywebrtc (ours)',
      'vs_ywebrtc (theirs)',
      'reads (linearizable)',
      'reads (lease)',
    ]);
  });

  it('takes samples by mode from notes.samplesByMode', () => {
    const results = withMetrics([
      { ...latency('reads', []), samples: undefined, notes: { samplesByMode: { lease: [1, 2] } } },
    ]);
    expect(latencyCurves(results).map((curve) => curve.name)).toEqual(['reads (lease)']);
  });
});

describe('charts', () => {
  it('draws all three plots for the fixture', () => {
    const { charts, skipped } = buildCharts(fixture);
    expect(charts.map((chart) => chart.id)).toEqual(['latency-cdf', 'throughput', 'scale']);
    expect(skipped).toEqual([]);
  });

  it('skips, with a reason, each plot whose data is absent', () => {
    const { charts, skipped } = buildCharts(withMetrics([latency('rtt', [1, 2, 3])]));
    expect(charts.map((chart) => chart.id)).toEqual(['latency-cdf']);
    expect(skipped).toHaveLength(2);
    expect(skipped.join('\n')).toMatch(/throughput[\s\S]*scale/);
    expect(buildCharts(withMetrics([])).charts).toEqual([]);
  });

  it('dashes the baseline across the whole x range of a series', () => {
    const throughput = buildCharts(fixture).charts.find((chart) => chart.id === 'throughput')!;
    const baseline = throughput.curves.find((curve) => curve.style === 'dashed')!;
    expect(baseline.points.map((p) => p.x)).toEqual([throughput.x.min, throughput.x.max]);
    expect(baseline.points.every((p) => p.y === 14_200)).toBe(true);
    expect(throughput.y.max).toBeGreaterThanOrEqual(14_200);
  });
});

describe('renderSvg', () => {
  const svgs = buildCharts(fixture).charts.map(renderSvg);

  it('is a well-formed 720×420 SVG document with every tag closed', () => {
    for (const svg of svgs) {
      expect(
        svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="420"'),
      ).toBe(true);
      expect(tagStack(svg)).toEqual([]);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    }
  });

  it('names every series in its legend', () => {
    const [cdf, throughput, scale] = svgs;
    for (const name of ['rtt', 'idb', 'commit_latency', 'vs_ywebrtc (theirs)', 'reads (lease)']) {
      expect(cdf).toContain(`>${name}</text>`);
    }
    expect(throughput).toContain('>throughput</text>');
    expect(throughput).toContain('>unreplicated state</text>');
    expect(scale).toContain('>commit p50</text>');
  });

  it('escapes text taken from the results', () => {
    const svg = renderSvg(buildCharts(withMetrics([latency('a<b & "c"', [1, 2])])).charts[0]!);
    expect(svg).toContain('a&#60;b &#38; &#34;c&#34;');
    expect(tagStack(svg)).toEqual([]);
  });

  it('is the same text for the same results', () => {
    expect(buildCharts(fixture).charts.map(renderSvg)).toEqual(svgs);
  });
});
