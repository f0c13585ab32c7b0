// The trace search's tags field.

// `key=value key2="a b"` (logfmt, as Jaeger's search form takes tags) → {key: value}
export function parseTags(text) {
  const tags = {};
  const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/y;
  let m;
  let at = 0;
  const t = text.trim();
  while (at < t.length) {
    re.lastIndex = at;
    m = re.exec(t);
    if (!m) throw new Error(`tags: cannot read ${JSON.stringify(t.slice(at))}; write key=value pairs separated by spaces`);
    tags[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2];
    at = re.lastIndex;
  }
  return tags;
}
