/**
 * Grouped bar charts as standalone SVG (no dependencies): one group per
 * category, one bar per series, values printed on the bars, an optional
 * goal line. Log scale for data spanning orders of magnitude.
 */

export interface BarChart {
  title: string;
  /** The value axis label, with its unit. */
  unit: string;
  categories: string[];
  series: Array<{ name: string; values: Array<number | null> }>;
  log?: boolean;
  goal?: { value: number; label: string };
  /** Formats a value for its label (default: 3 significant digits). */
  format?: (v: number) => string;
}

const COLORS = ['#2f6fb3', '#e08a2c', '#8c8c8c', '#4c9a5b', '#b04a6f'];
const W = 760;
const H = 340;
const M = { top: 48, right: 20, bottom: 64, left: 72 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function compact(v: number): string {
  const sig = (x: number): string => {
    const text = x.toPrecision(3);
    return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  };
  const a = Math.abs(v);
  // Thresholds a little under the powers, so 999,700 reads 1 M rather than 1.00e+3 k.
  if (a >= 999.5e6) return `${sig(v / 1e9)} G`;
  if (a >= 999.5e3) return `${sig(v / 1e6)} M`;
  if (a >= 999.5) return `${sig(v / 1e3)} k`;
  return sig(v);
}

export function barChart(c: BarChart): string {
  const fmt = c.format ?? compact;
  const values = c.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  if (c.goal) values.push(c.goal.value);
  const maxV = values.length > 0 ? Math.max(...values) : 1;
  const minV = values.length > 0 ? Math.min(...values) : 1;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  let lo: number;
  let hi: number;
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (c.log) {
    lo = Math.floor(Math.log10(minV));
    hi = Math.ceil(Math.log10(maxV));
    if (hi === lo) hi++;
    y = (v) => M.top + plotH - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotH;
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  } else {
    lo = 0;
    const step = 10 ** Math.floor(Math.log10(maxV)) / (maxV / 10 ** Math.floor(Math.log10(maxV)) < 2.5 ? 4 : 1);
    hi = Math.ceil(maxV / step) * step;
    y = (v) => M.top + plotH - (v / hi) * plotH;
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
  }
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(c.title)}</text>`);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#555">${esc(fmt(t))}</text>`);
  }
  parts.push(
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(c.unit)}${c.log ? ' (log scale)' : ''}</text>`,
  );
  const groupW = plotW / Math.max(1, c.categories.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, c.series.length));
  c.categories.forEach((cat, i) => {
    const gx = M.left + i * groupW + (groupW - barW * c.series.length) / 2;
    c.series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v) || v <= 0) return;
      const x = gx + k * barW;
      const top = y(v);
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(M.top + plotH - top).toFixed(1)}" fill="${COLORS[k % COLORS.length]}"/>`);
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#222">${esc(fmt(v))}</text>`);
    });
    parts.push(`<text x="${(M.left + i * groupW + groupW / 2).toFixed(1)}" y="${M.top + plotH + 16}" text-anchor="middle" fill="#333">${esc(cat)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`);
  if (c.goal) {
    const gy = y(c.goal.value).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${gy}" y2="${gy}" stroke="#c0392b" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - M.right}" y="${Number(gy) - 4}" text-anchor="end" fill="#c0392b">${esc(c.goal.label)}</text>`);
  }
  let lx = M.left;
  c.series.forEach((s, k) => {
    parts.push(`<rect x="${lx}" y="${H - 22}" width="12" height="12" fill="${COLORS[k % COLORS.length]}"/>`);
    parts.push(`<text x="${lx + 16}" y="${H - 12}" fill="#333">${esc(s.name)}</text>`);
    lx += 24 + s.name.length * 7;
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
