// The query page's state in Prometheus's own URL format, so links copied from a Prometheus
// server open here: /graph?g0.expr=…&g0.tab=0|1&g0.stacked=0|1&g0.range_input=1h
// &g0.end_input=2024-01-02 03:04:05&g0.moment_input=…&g0.step_input=15 (tab 0 = chart, 1 = table).
// Prometheus 3's links (/query?g0.tab=graph|table&g0.display_mode=lines|stacked&g0.res_type=fixed
// &g0.res_step=15) are read too; this page writes Prometheus 2's form, which Prometheus 3 also reads.

const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
const DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;

// seconds of a Prometheus duration ("1h30m", "2d", "15s"), or null
export function parseDuration(text) {
  const t = (text || "").trim();
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return parseFloat(t);
  const m = DURATION.exec(t);
  if (!m) return null;
  const parts = [["y", m[2]], ["w", m[4]], ["d", m[6]], ["h", m[8]], ["m", m[10]], ["s", m[12]], ["ms", m[14]]];
  let seconds = 0;
  for (const [unit, n] of parts) if (n !== undefined) seconds += parseInt(n, 10) * UNITS[unit];
  return seconds > 0 ? seconds : null;
}

export function formatDuration(seconds) {
  if (seconds <= 0) return "0s";
  let rest = Math.round(seconds * 1000);
  let out = "";
  for (const [unit, size] of [["y", 31536000000], ["w", 604800000], ["d", 86400000], ["h", 3600000],
                              ["m", 60000], ["s", 1000], ["ms", 1]]) {
    if (rest >= size) {
      out += Math.floor(rest / size) + unit;
      rest %= size;
    }
  }
  return out;
}

const pad = (n) => String(n).padStart(2, "0");

// "YYYY-MM-DD HH:mm:ss" in UTC, as Prometheus writes end_input and moment_input
export function formatTime(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
         `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

// milliseconds of "YYYY-MM-DD HH:mm[:ss]" (UTC), an RFC 3339 time or Unix seconds; null if none
export function parseTime(text) {
  const t = (text || "").trim();
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return parseFloat(t) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (!m) return null;
  if (m[8]) return Date.parse(t.replace(" ", "T"));
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0), m[7] ? +m[7].slice(0, 3).padEnd(3, "0") : 0);
}

export const DEFAULT_STATE = { expr: "", tab: 0, stacked: false, range: 3600, end: null, step: null };

// the state of panel 0 (other panels of a Prometheus link are not shown)
export function readState(search) {
  const p = new URLSearchParams(search);
  const state = { ...DEFAULT_STATE };
  state.expr = p.get("g0.expr") || "";
  // Prometheus 2 writes tab=0|1 and stacked=0|1; Prometheus 3 (/query) tab=graph|table and display_mode
  state.tab = p.get("g0.tab") === "1" || p.get("g0.tab") === "table" ? 1 : 0;
  state.stacked = p.get("g0.stacked") === "1" || p.get("g0.display_mode") === "stacked";
  state.range = parseDuration(p.get("g0.range_input")) || DEFAULT_STATE.range;
  // the table evaluates at moment_input, the chart ends at end_input; either restores the other
  const end = state.tab === 1 ? (p.get("g0.moment_input") || p.get("g0.end_input")) : (p.get("g0.end_input") || p.get("g0.moment_input"));
  state.end = parseTime(end);
  state.step = parseDuration(p.get("g0.step_input")) ||
    (p.get("g0.res_type") === "fixed" ? parseDuration(p.get("g0.res_step")) : null);
  return state;
}

export function writeState(state) {
  const p = new URLSearchParams();
  p.set("g0.expr", state.expr);
  p.set("g0.tab", String(state.tab));
  p.set("g0.stacked", state.stacked ? "1" : "0");
  p.set("g0.show_exemplars", "0");
  p.set("g0.range_input", formatDuration(state.range));
  if (state.end !== null) {
    p.set("g0.end_input", formatTime(state.end));
    p.set("g0.moment_input", formatTime(state.end));
  }
  if (state.step !== null) p.set("g0.step_input", String(state.step));
  return "?" + p.toString();
}

// Prometheus's default resolution: a 250th of the range, whole seconds, at least 1 s
export function autoStep(rangeSeconds) {
  return Math.max(Math.floor(rangeSeconds / 250), 1);
}
