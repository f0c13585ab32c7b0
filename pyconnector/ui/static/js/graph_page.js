// The query page: editor, time controls, the table (instant query) and chart (range query) views,
// the URL holding the whole state, the query's cost, and its SQL equivalent.

import { prom } from "./api.js";
import { Chart } from "./chart.js";
import { Editor, errorPosition } from "./editor.js";
import { instantSql, rangeSql } from "./sql_equivalent.js";
import { renderTable } from "./table.js";
import { autoStep, formatDuration, formatTime, parseDuration, parseTime, readState, writeState } from "./url_state.js";

const RANGE_STEPS = ["1m", "5m", "15m", "30m", "1h", "2h", "6h", "12h", "1d", "2d", "1w", "2w", "4w", "8w", "1y"].map(parseDuration);
const $ = (id) => document.getElementById(id);

let state = readState(window.location.search);
let runs = 0;
const chart = new Chart($("chart"), { onZoom: zoom });
const editor = new Editor($("editor"), { onRun: run, onChange: (text) => { state.expr = text; } });

function showControls() {
  $("tab-table").classList.toggle("active", state.tab === 1);
  $("tab-chart").classList.toggle("active", state.tab === 0);
  document.body.dataset.tab = state.tab === 1 ? "table" : "chart";
  $("range").value = formatDuration(state.range);
  $("end").value = state.end === null ? "" : formatTime(state.end);
  $("step").value = state.step === null ? "" : String(state.step);
  $("stacked").checked = state.stacked;
  $("chart").hidden = state.tab !== 0;
  $("table").hidden = state.tab !== 1;
}

function readControls() {
  const range = parseDuration($("range").value);
  if (range === null) throw new Error(`range ${JSON.stringify($("range").value)}: use a duration such as 1h, 30m or 2d`);
  const endText = $("end").value.trim();
  const end = endText ? parseTime(endText) : null;
  if (endText && end === null) throw new Error(`end ${JSON.stringify(endText)}: use YYYY-MM-DD HH:mm:ss (UTC), or leave empty for now`);
  const stepText = $("step").value.trim();
  const step = stepText ? parseDuration(stepText) : null;
  if (stepText && step === null) throw new Error(`step ${JSON.stringify(stepText)}: use seconds or a duration such as 15s`);
  Object.assign(state, { range, end, step, stacked: $("stacked").checked, expr: editor.value });
}

function setStatus(status, text) {
  const stats = $("stats");
  stats.dataset.status = status;
  stats.dataset.runs = String(runs);
  stats.textContent = text;
}

function showError(message) {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message || "";
  const at = errorPosition(message);
  if (at) editor.markError(at[0], at[1]);
}

async function run() {
  runs += 1;
  const thisRun = runs;
  try {
    readControls();
  } catch (e) {
    showError(e.message);
    setStatus("error", "");
    return;
  }
  const search = writeState(state);
  if (search !== window.location.search) window.history.pushState(null, "", search);
  showError(null);
  if (!state.expr.trim()) {
    setStatus("idle", "");
    return;
  }
  setStatus("loading", "Loading…");
  const started = performance.now();
  const end = state.end === null ? Date.now() : state.end;
  try {
    if (state.tab === 1) {
      const data = await prom("/api/v1/query", { query: state.expr, time: end / 1000 });
      if (thisRun !== runs) return;
      const rows = renderTable($("table"), data);
      const elapsed = performance.now() - started;
      $("sql-text").textContent = instantSql(state.expr, end);
      setStatus("done", `Load time: ${elapsed.toFixed(0)} ms · Result series: ${rows} · Evaluated at ${formatTime(end)} UTC`);
    } else {
      const step = state.step === null ? autoStep(state.range) : state.step;
      const startSec = Math.floor((end / 1000 - state.range) / step) * step;
      const endSec = startSec + Math.floor((end / 1000 - startSec) / step) * step;
      const data = await prom("/api/v1/query_range", { query: state.expr, start: startSec, end: endSec, step });
      if (thisRun !== runs) return;
      if (data.resultType !== "matrix") throw new Error(`a range query answered ${data.resultType}, not a matrix`);
      chart.render(data.result, startSec, endSec, step, state.stacked);
      const samples = data.result.reduce((n, s) => n + s.values.length, 0);
      const elapsed = performance.now() - started;
      $("sql-text").textContent = rangeSql(state.expr, startSec * 1000, endSec * 1000, step);
      setStatus("done", `Load time: ${elapsed.toFixed(0)} ms · Resolution: ${step}s · Result series: ${data.result.length} · Samples: ${samples}`);
    }
  } catch (e) {
    if (thisRun !== runs) return;
    showError(e.message);
    setStatus("error", "");
  }
}

function zoom(fromMs, toMs) {
  state.end = Math.round(toMs / 1000) * 1000;
  state.range = Math.max(1, Math.round((toMs - fromMs) / 1000));
  state.step = null;
  showControls();
  run();
}

function changeRange(direction) {
  const current = parseDuration($("range").value) || state.range;
  const next = direction > 0 ? RANGE_STEPS.find((r) => r > current) : [...RANGE_STEPS].reverse().find((r) => r < current);
  if (next) {
    $("range").value = formatDuration(next);
    run();
  }
}

for (const button of document.querySelectorAll(".tabs button")) {
  button.addEventListener("click", () => {
    state.tab = +button.dataset.tab;
    showControls();
    run();
  });
}
$("run").addEventListener("click", run);
$("range-less").addEventListener("click", () => changeRange(-1));
$("range-more").addEventListener("click", () => changeRange(1));
for (const id of ["range", "end", "step"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") run(); });
$("stacked").addEventListener("change", run);
window.addEventListener("popstate", () => {
  state = readState(window.location.search);
  editor.value = state.expr;
  showControls();
  run();
});

editor.value = state.expr;
showControls();
setStatus("idle", "");
if (state.expr) run();
