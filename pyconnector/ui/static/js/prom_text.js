// The Prometheus text exposition format (the connector's /metrics) as {"name{labels}": value}.

export function parseExposition(text) {
  const samples = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) samples[m[1]] = parseFloat(m[2]);
  }
  return samples;
}
