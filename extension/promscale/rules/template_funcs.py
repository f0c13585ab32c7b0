"""The functions of Prometheus 2.42's template package that rule templates call (humanize*,
match, reReplaceAll, query, first, label, value, ...), with text/template's builtins
(template_go.py): ``functions()`` is what a template may call."""

from __future__ import annotations

import datetime
import math
import urllib.parse
from typing import Any, Callable

from ..promql.gofmt import go_quote, go_sprint_float
from ..promql.lexer import parse_duration
from .template_go import FuncError, builtins, go_time, go_type

# --- Prometheus's template functions ----------------------------------------------------------

def to_float(i: Any) -> float:
    if isinstance(i, bool):
        raise FuncError("can't convert bool to float")
    if isinstance(i, (int, float)):
        return float(i)
    if isinstance(i, str):
        try:
            return float(i.strip()) if i.strip().lower() not in ("inf", "+inf", "-inf", "nan") else float(i)
        except ValueError:
            raise FuncError(f'strconv.ParseFloat: parsing {go_quote(i)}: invalid syntax') from None
    raise FuncError(f"can't convert {go_type(i)} to float")


def _g4(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return "%.4g" % v


def humanize(i: Any) -> str:
    v = to_float(i)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return _g4(v) + prefix


def humanize1024(i: Any) -> str:
    v = to_float(i)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _g4(v) + prefix


def humanize_duration(i: Any) -> str:
    v = to_float(i)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        duration = int(v)
        seconds, minutes = duration % 60, (duration // 60) % 60
        hours, days = (duration // 3600) % 24, duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(i: Any) -> str:
    return _g4(to_float(i) * 100) + "%"


def _to_time(i: Any) -> datetime.datetime:
    v = to_float(i)
    if math.isnan(v) or math.isinf(v):
        raise _NaNOrInf()
    seconds = math.floor(v)
    micros = round((v - seconds) * 1e6)
    try:
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise FuncError(f"{go_sprint_float(v)} cannot be represented as a time") from None


class _NaNOrInf(Exception):
    pass


def humanize_timestamp(i: Any) -> str:
    try:
        return go_time(_to_time(i))
    except _NaNOrInf:
        return _g4(to_float(i))


def to_time(i: Any) -> datetime.datetime:
    try:
        return _to_time(i)
    except _NaNOrInf:
        raise FuncError("value is NaN or Inf") from None


def title(s: str) -> str:
    """strings.Title: the first letter of each word upper-cased."""
    out = []
    prev_sep = True
    for c in s:
        out.append(c.upper() if prev_sep else c)
        prev_sep = not (c.isalnum() or c == "_")
    return "".join(out)


def match(pattern: str, text: str) -> bool:
    import re2
    try:
        return re2.search(pattern, text) is not None
    except re2.error as exc:
        raise FuncError(f"error parsing regexp: {exc}") from None


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """regexp.ReplaceAllString: $1, ${1}, $name and ${name} expand, $$ is a dollar."""
    import re

    import re2
    try:
        rx = re2.compile(pattern)
    except re2.error as exc:
        raise FuncError(f"regexp: Compile({go_quote(pattern)}): {exc}") from None

    def expand(m: Any) -> str:
        def one(ref: re.Match) -> str:
            if ref.group(0) == "$$":
                return "$"
            name = ref.group(1) or ref.group(2)
            try:
                return m.group(int(name) if name.isdigit() else name) or ""
            except (IndexError, KeyError, re2.error):
                return ""
        return re.sub(r"\$\$|\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)", one, repl)

    return rx.sub(expand, text)


def parse_duration_seconds(d: str) -> float:
    try:
        return parse_duration(d) / 1000.0
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def first(v: Any) -> Any:
    if isinstance(v, list) and v:
        return v[0]
    raise FuncError("first() called on vector with no elements")


def label(name: str, s: Any) -> str:
    return (s or {}).get("Labels", {}).get(name, "")


def sort_by_label(name: str, v: list) -> list:
    return sorted(v, key=lambda s: s["Labels"].get(name, ""))


def _link(path: str, expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab={path}"


def functions(query: Callable[[str], list] | None, external_url: str = "") -> dict[str, Callable[..., Any]]:
    """Every function a rule template may call; ``query`` runs PromQL at the evaluation time."""
    def run_query(expr: str) -> list:
        if query is None:
            raise FuncError("query() is not available here")
        return query(expr)

    parsed_url = urllib.parse.urlparse(external_url)
    return {
        **builtins(),
        # Prometheus 2.42's template package
        "query": run_query, "first": first, "label": label, "value": lambda s: (s or {}).get("Value", 0.0),
        "strvalue": lambda s: (s or {}).get("Labels", {}).get("__value__", ""),
        "args": lambda *a: {f"arg{i}": x for i, x in enumerate(a)},
        "reReplaceAll": re_replace_all, "safeHtml": lambda s: s, "match": match,
        "title": title, "toUpper": lambda s: s.upper(), "toLower": lambda s: s.lower(),
        "graphLink": lambda e: _link("0", e), "tableLink": lambda e: _link("1", e),
        "sortByLabel": sort_by_label, "humanize": humanize, "humanize1024": humanize1024,
        "humanizeDuration": humanize_duration, "humanizePercentage": humanize_percentage,
        "humanizeTimestamp": humanize_timestamp, "toTime": to_time, "parseDuration": parse_duration_seconds,
        "pathPrefix": lambda: parsed_url.path, "externalURL": lambda: external_url,
    }
