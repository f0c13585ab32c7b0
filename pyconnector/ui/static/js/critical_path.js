// The critical path of a trace: the parts of spans that the root's end waited on. From the end
// of a span, walk back through the child that finished last before the current point, then the
// child that finished last before that one started, and so on; the gaps are the span's own time.
// (The algorithm of Jaeger's UI; children that outlive their parent are cut at its end.)

// spans: [{spanID, start, end, children: [span]}]; returns [{spanID, start, end}] in time order
export function criticalPath(root) {
  const segments = [];
  walk(root, root.end, segments);
  return segments.sort((a, b) => a.start - b.start);
}

function walk(span, until, out) {
  let cursor = Math.min(span.end, until);
  const children = [...span.children];
  for (;;) {
    let last = null;
    for (const c of children) {
      if (c.start < cursor && Math.min(c.end, cursor) > span.start && (last === null || Math.min(c.end, cursor) > Math.min(last.end, cursor))) last = c;
    }
    if (last === null) break;
    children.splice(children.indexOf(last), 1);
    const childEnd = Math.min(last.end, cursor);
    if (childEnd < cursor) out.push({ spanID: span.spanID, start: childEnd, end: cursor });
    walk(last, childEnd, out);
    cursor = Math.max(last.start, span.start);
    if (cursor <= span.start) break;
  }
  if (cursor > span.start) out.push({ spanID: span.spanID, start: span.start, end: cursor });
}
