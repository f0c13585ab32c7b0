// How a series and a sample value are written: metric{label="value", …} as Prometheus shows them.

export function seriesName(metric) {
  const labels = Object.keys(metric || {}).filter((k) => k !== "__name__").sort();
  const inner = labels.map((k) => `${k}=${JSON.stringify(metric[k])}`).join(", ");
  const name = (metric && metric.__name__) || "";
  return inner || !name ? `${name}{${inner}}` : name;
}

export function sampleValue(text) {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return parseFloat(text);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatCount(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
}
