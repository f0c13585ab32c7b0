// A trace as a span waterfall: one row per span in tree order, a bar placed on the trace's time
// axis, the critical path drawn over the bars, and a span's details (attributes, events, links)
// under its row when clicked.

import { criticalPath } from "./critical_path.js";
import { escapeHtml } from "./series_format.js";

const COLORS = ["#17becf", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#1f77b4", "#7f7f7f"];

export function formatMicros(us) {
  if (us >= 1e6) return (us / 1e6).toFixed(2) + "s";
  if (us >= 1e3) return (us / 1e3).toFixed(2) + "ms";
  return us + "μs";
}

const tagValue = (t) => (typeof t.value === "string" ? t.value : JSON.stringify(t.value));

// spans as a forest: [{span, spanID, start, end, depth, children, service}], roots in start order
export function spanTree(trace) {
  const nodes = new Map();
  for (const span of trace.spans) {
    nodes.set(span.spanID, {
      span, spanID: span.spanID, start: span.startTime, end: span.startTime + span.duration, children: [],
      service: (trace.processes[span.processID] || {}).serviceName || "?", depth: 0,
    });
  }
  const roots = [];
  for (const node of nodes.values()) {
    const parent = node.span.references.find((r) => r.refType === "CHILD_OF" && nodes.has(r.spanID));
    if (parent) nodes.get(parent.spanID).children.push(node);
    else roots.push(node);
  }
  const byStart = (a, b) => a.start - b.start || a.spanID.localeCompare(b.spanID);
  roots.sort(byStart);
  const ordered = [];
  const visit = (node, depth) => {
    node.depth = depth;
    ordered.push(node);
    node.children.sort(byStart);
    for (const c of node.children) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return { roots, ordered };
}

export function traceSummary(trace) {
  const { roots, ordered } = spanTree(trace);
  const start = Math.min(...ordered.map((n) => n.start));
  const end = Math.max(...ordered.map((n) => n.end));
  const root = roots[0];
  const errors = trace.spans.filter((s) => s.tags.some((t) => t.key === "error" && t.value === true)).length;
  const services = new Map();
  for (const n of ordered) services.set(n.service, (services.get(n.service) || 0) + 1);
  return { root, start, end, duration: end - start, spans: ordered.length, errors, services };
}

function details(node, trace, traceStart) {
  const s = node.span;
  const process = trace.processes[s.processID] || { serviceName: "?", tags: [] };
  const rows = (tags) => tags.map((t) => `<tr><td>${escapeHtml(t.key)}</td><td>${escapeHtml(tagValue(t))}</td></tr>`).join("");
  let html = `<div class="span-details" data-span-id="${s.spanID}">` +
    `<div><b>${escapeHtml(node.service)}</b> ${escapeHtml(s.operationName)} · span ${s.spanID} · start ${formatMicros(s.startTime - traceStart)} · duration ${formatMicros(s.duration)}</div>` +
    `<h4>Attributes</h4><table class="attributes">${rows(s.tags)}</table>` +
    `<h4>Process (${escapeHtml(process.serviceName)})</h4><table class="process">${rows(process.tags)}</table>`;
  if (s.logs.length) {
    html += "<h4>Events</h4>" + s.logs.map((l) => `<div class="event"><span class="muted">${formatMicros(l.timestamp - traceStart)}</span>` +
      `<table>${rows(l.fields)}</table></div>`).join("");
  }
  const links = s.references.filter((r) => r.refType !== "CHILD_OF");
  if (links.length) {
    html += `<h4>Links</h4><table class="links">` + links.map((r) =>
      `<tr><td>${r.refType}</td><td><a href="?trace=${encodeURIComponent(r.traceID)}">trace ${r.traceID}</a> span ${r.spanID}</td></tr>`).join("") + "</table>";
  }
  if (s.warnings && s.warnings.length) html += `<h4>Warnings</h4><ul>${s.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>`;
  return html + "</div>";
}

export function renderWaterfall(container, trace) {
  const { roots, ordered } = spanTree(trace);
  const summary = traceSummary(trace);
  const start = summary.start;
  const total = Math.max(summary.duration, 1);
  const pct = (us) => ((us - start) / total) * 100;
  const colors = new Map([...summary.services.keys()].map((s, i) => [s, COLORS[i % COLORS.length]]));
  const critical = new Map();
  for (const root of roots) {
    for (const seg of criticalPath(root)) {
      if (!critical.has(seg.spanID)) critical.set(seg.spanID, []);
      critical.get(seg.spanID).push(seg);
    }
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span style="left:${f * 100}%">${formatMicros(Math.round(f * total))}</span>`).join("");
  let html = `<h2>${escapeHtml(summary.root.service)}: ${escapeHtml(summary.root.span.operationName)} ` +
    `<span class="muted">${trace.traceID}</span></h2>` +
    `<p class="muted">Start ${new Date(start / 1000).toISOString().replace("T", " ").slice(0, 23)} UTC · Duration ${formatMicros(summary.duration)} · ` +
    `Services ${summary.services.size} · Depth ${Math.max(...ordered.map((n) => n.depth)) + 1} · Spans ${ordered.length}` +
    ` · <span class="critical-legend">black line: critical path</span></p>`;
  if (trace.warnings && trace.warnings.length) html += `<p class="muted">${trace.warnings.length} warning(s): ${escapeHtml(trace.warnings.join("; "))}</p>`;
  html += `<div class="waterfall"><div class="ticks"><span>Service · operation</span><div class="scale">${ticks}</div></div>`;
  for (const node of ordered) {
    const s = node.span;
    const error = s.tags.some((t) => t.key === "error" && t.value === true);
    const segs = (critical.get(s.spanID) || []).map((seg) =>
      `<div class="critical" style="left:${pct(seg.start)}%;width:${Math.max(pct(seg.end) - pct(seg.start), 0.2)}%"></div>`).join("");
    const left = pct(node.start);
    html += `<div class="row" data-span-id="${s.spanID}" data-critical="${critical.has(s.spanID) ? 1 : 0}">` +
      `<div class="name" style="padding-left:${node.depth * 14}px" title="${escapeHtml(node.service + " " + s.operationName)}">` +
      `<span class="svc" style="color:${colors.get(node.service)}">${escapeHtml(node.service)}</span> ${escapeHtml(s.operationName)}</div>` +
      `<div class="timeline"><div class="bar${error ? " error" : ""}" style="left:${left}%;width:${Math.max(pct(node.end) - left, 0.2)}%;background:${colors.get(node.service)}"></div>${segs}` +
      (pct(node.end) > 90
        ? `<span class="dur inside" style="right:calc(${100 - pct(node.end)}% + 4px)">${formatMicros(s.duration)}</span></div></div>`
        : `<span class="dur" style="left:calc(${pct(node.end)}% + 4px)">${formatMicros(s.duration)}</span></div></div>`);
  }
  container.innerHTML = html + "</div>";
  container.dataset.spanCount = String(ordered.length);
  for (const row of container.querySelectorAll(".waterfall .row")) {
    row.addEventListener("click", () => {
      const open = row.nextElementSibling && row.nextElementSibling.classList.contains("span-details");
      if (open) {
        row.nextElementSibling.remove();
        row.classList.remove("selected");
        return;
      }
      row.classList.add("selected");
      const node = ordered.find((n) => n.spanID === row.dataset.spanId);
      row.insertAdjacentHTML("afterend", details(node, trace, start));
    });
  }
}
