// The SQL an analyst can paste into psql to get the same answer from the extension.

const literal = (text) => "'" + String(text).replace(/'/g, "''") + "'";
const iso = (ms) => new Date(ms).toISOString();

export function rangeSql(expr, startMs, endMs, stepSeconds) {
  return `SELECT * FROM prom_api.query_range(${literal(expr)}, ${literal(iso(startMs))}, ` +
         `${literal(iso(endMs))}, ${literal(stepSeconds + " seconds")});`;
}

export function instantSql(expr, timeMs) {
  return `SELECT * FROM prom_api.query(${literal(expr)}, ${literal(iso(timeMs))});`;
}
