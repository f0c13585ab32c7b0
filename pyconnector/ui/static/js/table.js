// The table view of an instant query: one row per series (vector), or the scalar or string value.

import { escapeHtml, seriesName } from "./series_format.js";

export function renderTable(container, data) {
  const rows = [];
  if (data.resultType === "vector") {
    for (const s of data.result) rows.push([seriesName(s.metric), s.value[1]]);
  } else if (data.resultType === "matrix") {
    for (const s of data.result) rows.push([seriesName(s.metric), s.values.map((v) => `${v[1]} @${v[0]}`).join("\n")]);
  } else if (data.resultType === "scalar" || data.resultType === "string") {
    rows.push([data.resultType, data.result[1]]);
  }
  if (rows.length === 0) {
    container.innerHTML = '<p class="empty">Empty query result</p>';
    return 0;
  }
  container.innerHTML = `<table class="result-table"><thead><tr><th>Series</th><th>Value</th></tr></thead><tbody>` +
    rows.map(([name, value]) => `<tr><td class="series">${escapeHtml(name)}</td><td class="value">${escapeHtml(value)}</td></tr>`).join("") +
    "</tbody></table>";
  return rows.length;
}
