// Line charts as inline SVG strings, so a report is one HTML file that opens offline with no scripts,
// fonts or stylesheets fetched from anywhere.

export interface Series {
  name: string;
  points: [number, number][]; // [x, y]
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Logarithmic y axis (latency charts, where one stall would flatten everything else). */
  logY?: boolean;
}

const W = 760;
const H = 300;
const M = { left: 70, right: 20, top: 34, bottom: 64 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 1-2-5 steps so that about `n` ticks span [0, max]. */
function ticks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function label(v: number): string {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

export function lineChart(chart: Chart): string {
  const all = chart.series.flatMap((s) => s.points);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter((y) => Number.isFinite(y));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs, xMin + 1) : 1;
  const positive = ys.filter((y) => y > 0);
  const log = chart.logY === true && positive.length > 0;
  const yTicks = log
    ? logTicks(Math.min(...positive), Math.max(...positive))
    : ticks(ys.length ? Math.max(...ys) : 1);
  const yLo = log ? (yTicks[0] as number) : 0;
  const yHi = yTicks[yTicks.length - 1] as number;
  const sx = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => {
    const f = log
      ? (Math.log10(Math.max(y, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo) || 1)
      : y / (yHi || 1);
    return M.top + ph - f * ph;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(chart.title)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ];
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`,
    );
  }
  for (const t of ticks(xMax - xMin, 8)) {
    const x = sx(xMin + t).toFixed(1);
    parts.push(`<text x="${x}" y="${M.top + ph + 14}" text-anchor="middle">${label(xMin + t)}</text>`);
  }
  parts.push(
    `<text x="${M.left + pw / 2}" y="${M.top + ph + 30}" text-anchor="middle">${escapeHtml(chart.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(chart.yLabel)}${log ? ' (log)' : ''}</text>`,
  );
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const pts = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join(' ');
    if (pts) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${pts}"/>`);
    const lx = M.left + (i % 4) * 170;
    const ly = H - 14 - Math.floor(i / 4) * 14 + (chart.series.length > 4 ? -14 : 0);
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="12" height="3" fill="${color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly - 4}">${escapeHtml(s.name)}</text>`);
  });
  if (all.length === 0)
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#999">no data</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
