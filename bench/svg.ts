import type { CaseResult } from './harness.js';

/** What the chart says about the run (its subtitle). */
export interface ChartMachine {
  cpu: string;
  cores: number;
  node: string;
  quick: boolean;
}

const WIDTH = 1000;
const LABEL_RIGHT = 330;
const PLOT_LEFT = 345;
const PLOT_RIGHT = 800;
const VALUE_LEFT = 812;
const TOP = 100;
const ROW = 20;
const HEADER = 24;
const BAR = 12;
const MET = '#2e7d32';
const MISSED = '#c62828';
const PLAIN = '#4e79a7';
type Row = { kind: 'case'; result: CaseResult } | { kind: 'peer'; peer: string; result: CaseResult };
const TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/**
 * The ratios of a run as a horizontal bar chart, drawn by hand (no
 * dependency): one bar per case and peer, on a log scale around 1x (to the
 * right: ours is better), coloured by its target where the case has one
 * (green met, red not met, blue no target), the target drawn as a black mark.
 */
export function barChart(results: readonly CaseResult[], machine: ChartMachine): string {
  const all: Row[] = [];
  const values: number[] = [];
  for (const result of results) {
    all.push({ kind: 'case', result });
    for (const peer of Object.keys(result.ratios)) {
      all.push({ kind: 'peer', peer, result });
      values.push(result.ratios[peer]);
      const target = result.targets?.[peer];
      if (target !== undefined) values.push(target);
    }
  }
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const low = Math.min(0.5, ...positive.map((v) => v / 1.2));
  const high = Math.max(2, ...positive.map((v) => v * 1.2));
  const ticks = TICKS.filter((t) => t >= low && t <= high);
  const min = Math.min(ticks[0] ?? low, low);
  const max = Math.max(ticks[ticks.length - 1] ?? high, high);
  const x = (ratio: number): number => {
    const clamped = Math.min(max, Math.max(min, ratio > 0 && Number.isFinite(ratio) ? ratio : min));
    return (
      PLOT_LEFT + ((Math.log(clamped) - Math.log(min)) / (Math.log(max) - Math.log(min))) * (PLOT_RIGHT - PLOT_LEFT)
    );
  };

  let height = TOP;
  for (const row of all) height += row.kind === 'case' ? HEADER : ROW;
  const plotBottom = height + 4;
  height = plotBottom + 52;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>nestjs-connman benchmark: ours against each peer</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, 'nestjs-connman benchmark: how many times better ours is than each peer', {
      size: 16,
      weight: 'bold',
    }),
    text(
      16,
      44,
      `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}${machine.quick ? ', --quick (short run: rougher figures)' : ''}`,
      { fill: '#555555' },
    ),
  );
  // Legend.
  const legend: [string, string][] = [
    [MET, 'target met'],
    [MISSED, 'target not met'],
    [PLAIN, 'no target'],
  ];
  let lx = 16;
  for (const [fill, label] of legend) {
    out.push(`<rect x="${lx}" y="56" width="12" height="12" fill="${fill}"/>`, text(lx + 17, 66, label));
    lx += 30 + label.length * 6.5;
  }
  out.push(
    `<line x1="${lx}" y1="55" x2="${lx}" y2="69" stroke="#000000" stroke-width="2"/>`,
    text(lx + 7, 66, 'target (at least this ratio)'),
    text(lx + 190, 66, 'log scale; right of 1x: ours is better (whatever the unit)', { fill: '#555555' }),
  );

  // Shading of every other case, under the grid.
  let y = TOP;
  let shade = false;
  for (const row of all) {
    if (row.kind === 'case') {
      shade = !shade;
      const peers = Object.keys(row.result.ratios).length;
      if (shade)
        out.push(`<rect x="8" y="${y}" width="${WIDTH - 16}" height="${HEADER + peers * ROW}" fill="#f2f4f7"/>`);
    }
    y += row.kind === 'case' ? HEADER : ROW;
  }

  // Grid, with its labels above and below the plot.
  for (const t of ticks) {
    const gx = x(t).toFixed(1);
    const one = t === 1;
    out.push(
      `<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="${one ? '#333333' : '#d0d4da'}" stroke-width="${one ? 1.5 : 1}"/>`,
      text(Number(gx), TOP - 10, `${t}x`, { anchor: 'middle', fill: '#555555', size: 11 }),
      text(Number(gx), plotBottom + 14, `${t}x`, { anchor: 'middle', fill: '#555555', size: 11 }),
    );
  }

  y = TOP;
  for (const row of all) {
    if (row.kind === 'case') {
      const r = row.result;
      out.push(
        `<text x="16" y="${y + 16}"><tspan font-weight="bold">${escape(r.name)}</tspan><tspan dx="12" fill="#555555" font-size="11">ours: ${escape(formatValue(r.ours))} ${escape(r.unit)} (${r.better} is better)</tspan></text>`,
      );
      y += HEADER;
      continue;
    }
    const r = row.result;
    const ratio = r.ratios[row.peer];
    const target = r.targets?.[row.peer];
    const fill = target === undefined ? PLAIN : ratio >= target ? MET : MISSED;
    const x1 = x(1);
    const xr = x(ratio);
    const left = Math.min(x1, xr);
    const width = Math.max(1, Math.abs(xr - x1));
    const mid = y + ROW / 2;
    out.push(
      text(LABEL_RIGHT, mid + 4, `vs ${row.peer}`, { anchor: 'end' }),
      `<rect x="${left.toFixed(1)}" y="${(mid - BAR / 2).toFixed(1)}" width="${width.toFixed(1)}" height="${BAR}" fill="${fill}"><title>${escape(`${r.name} vs ${row.peer}: ${ratio}x${target === undefined ? '' : ` (target at least ${target}x)`}`)}</title></rect>`,
    );
    if (target !== undefined) {
      const tx = x(target).toFixed(1);
      out.push(`<line x1="${tx}" y1="${mid - 8}" x2="${tx}" y2="${mid + 8}" stroke="#000000" stroke-width="2"/>`);
    }
    const verdict =
      target === undefined ? '' : ratio >= target ? `  (target ${target}x: met)` : `  (target ${target}x: not met)`;
    out.push(text(VALUE_LEFT, mid + 4, `${ratio}x${verdict}`, { fill: target === undefined ? '#000000' : fill }));
    y += ROW;
  }
  out.push(
    text(
      16,
      plotBottom + 38,
      'Ratios from one run: every implementation measured interleaved with its peers (see bench/harness.ts).',
      {
        fill: '#555555',
        size: 11,
      },
    ),
    '</svg>',
  );
  return out.join('\n') + '\n';
}

function formatValue(value: number): string {
  return value >= 1000 ? Math.round(value).toLocaleString('en-US') : String(value);
}

function text(
  x: number,
  y: number,
  content: string,
  style: { anchor?: 'start' | 'middle' | 'end'; fill?: string; size?: number; weight?: 'bold' } = {},
): string {
  const attrs = [`x="${x.toFixed(1)}"`, `y="${y.toFixed(1)}"`];
  if (style.anchor !== undefined && style.anchor !== 'start') attrs.push(`text-anchor="${style.anchor}"`);
  if (style.fill !== undefined) attrs.push(`fill="${style.fill}"`);
  if (style.size !== undefined) attrs.push(`font-size="${style.size}"`);
  if (style.weight !== undefined) attrs.push(`font-weight="${style.weight}"`);
  return `<text ${attrs.join(' ')}>${escape(content)}</text>`;
}

function escape(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
