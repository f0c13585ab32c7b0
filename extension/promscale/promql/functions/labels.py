"""Functions that rewrite labels: label_replace and label_join. The values and the metric name
are kept."""

from __future__ import annotations

import re

from ..ast import STRING, VECTOR
from ..regex import RegexError, compile_anchored
from ..values import PromQLError, labels_get, merge_rows
from .registry import function

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _with_label(labels: tuple, name: str, value: str) -> tuple:
    """``labels`` with ``name`` set to ``value``, or removed when ``value`` is empty."""
    d = dict(labels)
    if value == "":
        d.pop(name, None)
    else:
        d[name] = value
    return tuple(sorted(d.items()))


# --- label_replace: label dst set to the expansion of replacement when regex matches the
# value of label src in full (series that do not match are unchanged)
@function("label_replace", [VECTOR, STRING, STRING, STRING, STRING], keeps_metric_name=True)
def label_replace(ev, call, ts):
    v = ev.eval(call.args[0], ts)
    dst = ev.eval(call.args[1], ts).val
    repl = ev.eval(call.args[2], ts).val
    src = ev.eval(call.args[3], ts).val
    regex = ev.eval(call.args[4], ts).val
    try:
        rx = compile_anchored(regex)
    except RegexError:
        raise PromQLError(f"invalid regular expression in label_replace(): {regex}") from None
    if not _LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for l in v.labels:
        m = rx.fullmatch(labels_get(l, src))
        out.append(l if m is None else _with_label(l, dst, _go_expand(repl, m)))
    return merge_rows(out, v.vals, v.mask)


# --- label_join: label dst set to the values of the source labels joined by separator
@function("label_join", [VECTOR, STRING, STRING, STRING], variadic=-1, keeps_metric_name=True)
def label_join(ev, call, ts):
    v = ev.eval(call.args[0], ts)
    dst = ev.eval(call.args[1], ts).val
    sep = ev.eval(call.args[2], ts).val
    srcs = [ev.eval(a, ts).val for a in call.args[3:]]
    for s in srcs:
        if not _LABEL_NAME.match(s):
            raise PromQLError(f"invalid source label name in label_join(): {s}")
    if not _LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_join(): {dst}")
    out = [_with_label(l, dst, sep.join(labels_get(l, s) for s in srcs)) for l in v.labels]
    return merge_rows(out, v.vals, v.mask)


def _go_expand(template: str, m) -> str:
    """Go's regexp.Regexp.ExpandString: $1, ${1}, $name, ${name}, $$."""
    out = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)
                i += 1
                continue
            i = end + 1
        else:
            mm = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not mm:
                out.append(c)
                i += 1
                continue
            name = mm.group(0)
            i += 1 + len(name)
        if name.isdigit():
            g = int(name)
            if g <= m.re.groups:
                out.append(m.group(g) or "")
        else:
            try:
                out.append(m.group(name) or "")
            except IndexError:  # no such group: expands to nothing, as in Go
                pass
    return "".join(out)
