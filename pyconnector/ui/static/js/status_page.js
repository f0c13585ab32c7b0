// The status page: versions, settings, storage, maintenance and series from /ui/api/status; ingest
// totals and rates from two readings of the connector's own /metrics.

import { getJSON, getText } from "./api.js";
import { parseExposition } from "./prom_text.js";
import { escapeHtml, formatBytes, formatCount } from "./series_format.js";

const $ = (id) => document.getElementById(id);
const INGEST = [
  ["promscale_ingest_samples_total", "samples"],
  ["promscale_ingest_series_total", "series entries"],
  ["promscale_ingest_requests_total", "remote_write requests"],
  ["promscale_ingest_exemplars_total", "exemplars"],
  ['promscale_trace_spans_written_total', "spans written"],
];
const READING_INTERVAL_MS = 5000;

function kv(element, pairs) {
  element.innerHTML = pairs.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v ?? "")}</td></tr>`).join("");
}

// columns: [title, key, format?, numeric?]
function table(element, rows, columns) {
  if (!rows.length) {
    element.innerHTML = '<p class="empty">None</p>';
    return;
  }
  element.innerHTML = `<table class="data"><thead><tr>${columns.map((c) => `<th>${escapeHtml(c[0])}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => "<tr>" + columns.map(([, key, format, numeric]) =>
      `<td class="${numeric ? "num" : ""}" data-key="${key}">${escapeHtml(format ? format(r[key]) : (r[key] ?? ""))}</td>`).join("") + "</tr>").join("") +
    "</tbody></table>";
}

async function loadStatus() {
  const s = await getJSON("/ui/api/status");
  kv($("build"), [
    ["connector", s.build.connector_version],
    ["extension", s.build.extension_version],
    ["PostgreSQL", s.build.postgresql_version],
    ["database", s.build.database],
    ["Python (connector)", s.build.python_version],
  ]);
  kv($("settings"), [
    ["default retention", s.settings.default_retention_period],
    ["trace retention", s.settings.trace_retention_period],
    ["head partition span", s.settings.head_chunk_interval],
    ["flush delay", s.settings.flush_delay],
    ["compression delay", s.settings.compression_delay],
    ["compressed row span", s.settings.compressed_chunk_interval],
  ]);
  const overrides = $("retention-overrides");
  overrides.innerHTML = s.retention_overrides.length ? "<h2>Metrics with their own retention</h2><div></div>" : "";
  if (s.retention_overrides.length) table(overrides.querySelector("div"), s.retention_overrides, [["metric", "metric"], ["retention", "retention_period"]]);
  table($("storage"), s.storage, [["tier", "tier"], ["partitions", "partitions", formatCount, true],
    ["samples", "samples", formatCount, true], ["on disk", "total_bytes", formatBytes, true],
    ["bytes/sample", "bytes_per_sample", (v) => (v === null ? "" : v.toFixed(2)), true]]);
  table($("maintenance"), s.maintenance, [["task", "task"], ["what", "description"], ["pending", "pending", formatCount, true],
    ["done", "done", formatCount, true], ["last done", "last_done_at"], ["last item", "last_item"]]);
  $("series-total").textContent = `${formatCount(s.metrics.total_series)} series in ${formatCount(s.metrics.total_metrics)} metrics` +
    (s.metrics.shown.length < s.metrics.total_metrics ? ` (the ${s.metrics.shown.length} with the most series below)` : "");
  table($("metrics"), s.metrics.shown, [["metric", "metric"], ["type", "type"], ["series", "series", formatCount, true]]);
  document.body.dataset.loaded = "status";
}

async function loadMetricStorage() {
  $("load-metric-storage").disabled = true;
  try {
    const { metrics } = await getJSON("/ui/api/metric-storage");
    table($("metric-storage"), metrics, [["metric", "metric"], ["series", "series", formatCount, true],
      ["head samples", "head_samples", formatCount, true], ["head bytes", "head_bytes", formatBytes, true],
      ["compressed samples", "compressed_samples", formatCount, true], ["compressed bytes", "compressed_bytes", formatBytes, true],
      ["bytes/sample", "bytes_per_sample", (v) => (v === null ? "" : v.toFixed(2)), true]]);
    $("metric-storage").dataset.loaded = "1";
  } catch (e) {
    $("metric-storage").innerHTML = `<p class="error">${escapeHtml(e.message)}</p>`;
  } finally {
    $("load-metric-storage").disabled = false;
  }
}

let previous = null;

async function readIngest() {
  const samples = parseExposition(await getText("/metrics"));
  const now = performance.now();
  const total = (name) => Object.entries(samples).filter(([k]) => k === name || k.startsWith(name + "{"))
    .reduce((sum, [, v]) => sum + v, 0);
  const rows = INGEST.map(([name, label]) => {
    const value = total(name);
    let rate = "";
    if (previous) rate = ` · ${((value - previous.values[name]) / ((now - previous.at) / 1000)).toFixed(1)}/s`;
    return [label, `${formatCount(value)} total${rate}`];
  });
  previous = { at: now, values: Object.fromEntries(INGEST.map(([name]) => [name, total(name)])) };
  kv($("ingest"), rows);
  if (rows.length && $("ingest").rows[0].textContent.includes("/s")) $("ingest-note").hidden = true;
}

$("load-metric-storage").addEventListener("click", loadMetricStorage);
loadStatus().catch((e) => {
  $("error").hidden = false;
  $("error").textContent = e.message;
});
readIngest().catch(() => {});
setInterval(() => readIngest().catch(() => {}), READING_INTERVAL_MS);
