// The trace search page: Jaeger API search by service, operation, tags, duration and time; a result
// list; a trace opened from it (or from ?trace=<id>) as a span waterfall.

import { getJSON } from "./api.js";
import { escapeHtml } from "./series_format.js";
import { parseTags } from "./tags.js";
import { parseTime } from "./url_state.js";
import { formatMicros, renderWaterfall, traceSummary } from "./waterfall.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["service", "operation", "tags", "minDuration", "maxDuration", "lookback", "start", "end", "limit"];
const LOOKBACK_HOURS = /^(\d+)h$/;

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

async function loadServices(selected) {
  const { data } = await getJSON("/api/services");
  const services = (data || []).sort();
  $("service").innerHTML = services.map((s) => `<option${s === selected ? " selected" : ""}>${escapeHtml(s)}</option>`).join("");
  if (!services.length) $("summary").textContent = "No traces stored yet: send spans to /v1/traces (OTLP/HTTP) or the OTLP gRPC port.";
}

async function loadOperations(selected) {
  const service = $("service").value;
  if (!service) return;
  const { data } = await getJSON(`/api/services/${encodeURIComponent(service)}/operations`);
  $("operation").innerHTML = '<option value="">all</option>' +
    (data || []).sort().map((o) => `<option${o === selected ? " selected" : ""}>${escapeHtml(o)}</option>`).join("");
}

function formState() {
  return Object.fromEntries(FIELDS.map((f) => [f, $(f).value.trim()]));
}

function searchParams(form) {
  const params = { service: form.service, operation: form.operation || undefined, limit: form.limit || "20",
                   minDuration: form.minDuration || undefined, maxDuration: form.maxDuration || undefined };
  if (form.tags) params.tags = JSON.stringify(parseTags(form.tags));
  const nowUs = Date.now() * 1000;
  if (form.lookback === "custom") {
    const start = parseTime(form.start);
    const end = parseTime(form.end);
    if (form.start && start === null) throw new Error(`start ${JSON.stringify(form.start)}: use YYYY-MM-DD HH:mm:ss (UTC)`);
    if (form.end && end === null) throw new Error(`end ${JSON.stringify(form.end)}: use YYYY-MM-DD HH:mm:ss (UTC)`);
    params.start = start === null ? undefined : start * 1000;
    params.end = end === null ? undefined : end * 1000;
  } else {
    const hours = parseInt(LOOKBACK_HOURS.exec(form.lookback)[1], 10);
    params.end = nowUs;
    params.start = nowUs - hours * 3600e6;
  }
  return params;
}

function writeUrl(extra) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...formState(), ...extra })) if (v) p.set(k, v);
  const search = "?" + p.toString();
  if (search !== window.location.search) window.history.pushState(null, "", search);
}

async function search() {
  showError(null);
  let params;
  try {
    params = searchParams(formState());
  } catch (e) {
    return showError(e.message);
  }
  writeUrl({});
  $("trace").hidden = true;
  $("results").dataset.status = "loading";
  try {
    const started = performance.now();
    const { data } = await getJSON("/api/traces", params);
    const traces = data || [];
    $("summary").textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"} · ${(performance.now() - started).toFixed(0)} ms`;
    $("results").innerHTML = traces.map((t) => {
      const s = traceSummary(t);
      const services = [...s.services].map(([name, n]) => `${escapeHtml(name)} (${n})`).join(", ");
      return `<div class="trace" data-trace-id="${t.traceID}">` +
        `<span class="title">${escapeHtml(s.root.service)}: ${escapeHtml(s.root.span.operationName)}</span>` +
        `<span>${formatMicros(s.duration)}</span>` +
        `<span>${s.spans} spans${s.errors ? ` · <span class="error-tag">${s.errors} error${s.errors > 1 ? "s" : ""}</span>` : ""} · ${services}</span>` +
        `<span class="muted">${new Date(s.start / 1000).toISOString().replace("T", " ").slice(0, 19)} UTC</span>` +
        `<span class="id">${t.traceID}</span></div>`;
    }).join("") || '<p class="empty">No trace matches.</p>';
    for (const el of $("results").querySelectorAll(".trace")) el.addEventListener("click", () => openTrace(el.dataset.traceId));
    $("results").dataset.status = "done";
  } catch (e) {
    $("results").dataset.status = "error";
    showError(e.message);
  }
}

async function openTrace(id, push = true) {
  showError(null);
  if (push) writeUrl({ trace: id });
  const view = $("trace");
  view.dataset.status = "loading";
  try {
    const { data } = await getJSON(`/api/traces/${encodeURIComponent(id)}`);
    view.hidden = false;
    renderWaterfall(view, data[0]);
    view.dataset.status = "done";
    view.scrollIntoView({ block: "start" });
  } catch (e) {
    view.dataset.status = "error";
    showError(`trace ${id}: ${e.message}`);
  }
}

async function start() {
  const p = new URLSearchParams(window.location.search);
  for (const f of FIELDS) if (p.has(f) && f !== "service" && f !== "operation") $(f).value = p.get(f);
  for (const el of document.querySelectorAll(".custom-time")) el.hidden = $("lookback").value !== "custom";
  try {
    await loadServices(p.get("service"));
    await loadOperations(p.get("operation"));
  } catch (e) {
    showError(e.message);
  }
  if (p.get("trace")) await openTrace(p.get("trace"), false);
  else if (p.get("service")) await search();
  document.body.dataset.ready = "1";
}

$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  search();
});
$("service").addEventListener("change", () => loadOperations(null).catch((e) => showError(e.message)));
$("lookback").addEventListener("change", () => {
  for (const el of document.querySelectorAll(".custom-time")) el.hidden = $("lookback").value !== "custom";
});
window.addEventListener("popstate", () => window.location.reload());
start();
