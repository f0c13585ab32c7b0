// The chart view of a range query, drawn by uPlot: one line per series, a legend with the labels
// and the values under the cursor, an optional stacked mode, and zoom by dragging across the chart.

import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";
import { sampleValue, seriesName } from "./series_format.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf", "#3366cc", "#dc3912", "#109618", "#990099", "#0099c6", "#dd4477"];

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// the matrix on the query's own grid of steps: x in seconds, one array per series, null where absent
export function alignMatrix(result, startSec, endSec, stepSec) {
  const xs = [];
  for (let t = startSec; t <= endSec + 1e-9; t += stepSec) xs.push(Math.round(t * 1000) / 1000);
  const index = new Map(xs.map((t, i) => [t, i]));
  const columns = result.map((s) => {
    const ys = new Array(xs.length).fill(null);
    for (const [t, v] of s.values) {
      let i = index.get(Math.round(t * 1000) / 1000);
      if (i === undefined) continue;
      const value = sampleValue(v);
      ys[i] = Number.isFinite(value) ? value : null;
    }
    return ys;
  });
  return { xs, columns };
}

function stackColumns(columns) {
  const sums = [];
  let below = null;
  for (const ys of columns) {
    const stacked = ys.map((v, i) => (v === null ? (below ? below[i] : null) : v + ((below && below[i]) || 0)));
    sums.push(stacked);
    below = stacked;
  }
  return sums;
}

export class Chart {
  constructor(container, { onZoom }) {
    this.container = container;
    this.onZoom = onZoom;
    this.plot = null;
    window.addEventListener("resize", () => this.plot && this.plot.setSize(this.size()));
  }

  size() {
    return { width: Math.max(this.container.clientWidth, 300), height: 420 };
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.container.innerHTML = "";
  }

  render(result, startSec, endSec, stepSec, stacked) {
    this.destroy();
    this.container.dataset.seriesCount = String(result.length);
    if (result.length === 0) {
      this.container.innerHTML = '<p class="empty">Empty query result</p>';
      return;
    }
    const { xs, columns } = alignMatrix(result, startSec, endSec, stepSec);
    const drawn = stacked ? stackColumns(columns) : columns;
    const series = [{ label: "time", value: (u, v) => (v === null ? "" : new Date(v * 1000).toISOString().replace("T", " ").slice(0, 19)) }];
    result.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({
        label: seriesName(s.metric),
        stroke: color,
        width: 1.5,
        fill: stacked ? alpha(color, 0.35) : undefined,
        spanGaps: false,
        points: { show: false },
        // the legend shows the series' own value, also when the lines are stacked
        value: (u, v, si, di) => {
          const raw = di === null || di === undefined ? null : columns[si - 1][di];
          return raw === null ? "–" : String(raw);
        },
      });
    });
    const bands = stacked ? columns.slice(1).map((_, i) => ({ series: [i + 2, i + 1], fill: alpha(PALETTE[(i + 1) % PALETTE.length], 0.35) })) : undefined;
    const opts = {
      ...this.size(),
      series,
      bands,
      scales: { x: { time: true } },
      // axis times in UTC, like the End input and Prometheus's URLs
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          this.onZoom(from * 1000, to * 1000);
        }],
      },
    };
    if (stacked) {
      // fills between neighbours come from the bands; the first series fills down to zero
      opts.series.forEach((s, i) => { if (i > 1) s.fill = undefined; });
    }
    this.plot = new uPlot(opts, [xs, ...drawn], this.container);
  }
}
