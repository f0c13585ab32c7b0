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
  const endOf = (child) => Math.min(child.end, span.end);  // a child outliving its parent is cut
  let candidates = span.children.filter((c) => c.start < cursor);
  for (let first = true; ; first = false) {
    // the child that finished last: first before the span's end, then before the chosen one started
    // (a sibling overlapping the chosen one did not hold the span up)
    let last = null;
    for (const c of candidates) {
      if (c.start >= cursor || (!first && endOf(c) > cursor)) continue;
      if (last === null || endOf(c) > endOf(last)) last = c;
    }
    if (last === null) break;
    candidates = candidates.filter((c) => c !== last);
    const childEnd = Math.min(endOf(last), cursor);
    if (childEnd < cursor) out.push({ spanID: span.spanID, start: childEnd, end: cursor });
    walk(last, childEnd, out);
    cursor = Math.max(last.start, span.start);
    if (cursor <= span.start) break;
  }
  if (cursor > span.start) out.push({ spanID: span.spanID, start: span.start, end: cursor });
}
