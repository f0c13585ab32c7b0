"""match[] selectors → label matchers, and matchers → series ids through SQL.

Parsing is the PromQL parser's job; this module only adapts its result to
(name, op, value) triples. Until the engine's parser is available in this
package, a small interim reader handles the series-selector subset
(``name{label op "value", ...}``).
"""

from __future__ import annotations

import re
from typing import Any

Matcher = tuple[str, str, str]  # (label name, op in = != =~ !~, value or regex)

_plans: dict[str, Any] = {}


class SelectorError(Exception):
    """A selector that does not parse; the message is Prometheus's."""


def _plan(plpy: Any, key: str, query: str, types: list[str]) -> Any:
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = plpy.prepare(query, types)
    return plan


# --- parsing ---------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?P<op>=~|!~|!=|=)|(?P<punct>[{},])|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`))""")


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    body = text[1:-1]
    return body.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in body else body


def _interim_parse(text: str) -> list[Matcher]:
    pos, tokens = 0, []
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m or m.end() == pos:
            raise SelectorError(f'1:{pos + 1}: parse error: unexpected character: {stripped[pos:pos + 1]!r}')
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    if not tokens:
        raise SelectorError("1:1: parse error: unexpected end of input")
    matchers: list[Matcher] = []
    i = 0
    if tokens[0][0] == "name":
        matchers.append(("__name__", "=", tokens[0][1]))
        i = 1
    if i < len(tokens):
        if tokens[i][1] != "{":
            raise SelectorError(f"1:{tokens[i][2]}: parse error: unexpected {tokens[i][1]!r}")
        i += 1
        while i < len(tokens) and tokens[i][1] != "}":
            if i + 2 >= len(tokens) or tokens[i][0] != "name" or tokens[i + 1][0] != "op" or tokens[i + 2][0] != "str":
                at = tokens[min(i, len(tokens) - 1)][2]
                raise SelectorError(f"1:{at}: parse error: unexpected token in label matching")
            matchers.append((tokens[i][1], tokens[i + 1][1], _unquote(tokens[i + 2][1])))
            i += 3
            if i < len(tokens) and tokens[i][1] == ",":
                i += 1
        if i >= len(tokens):
            raise SelectorError(f"1:{len(stripped) + 1}: parse error: unexpected end of input inside braces")
        i += 1
        if i < len(tokens):
            raise SelectorError(f"1:{tokens[i][2]}: parse error: unexpected {tokens[i][1]!r}")
    for name, op, value in matchers:
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise SelectorError(f"1:1: parse error: invalid regular expression {value!r}: {exc}") from None
    return matchers


def _engine_parser() -> Any:
    """The PromQL engine's parser module (promscale.promql.parser), or None before it exists."""
    try:
        from ..promql import ast, parser
    except ImportError:
        return None
    return parser, ast


def _matchers_of(selector: Any) -> list[Matcher]:
    return [(m.name, m.type, m.value) for m in selector.matchers]


def parse_metric_selector(text: str) -> list[Matcher]:
    """The matchers of one series selector such as ``up{job="node"}`` (parser.ParseMetricSelector)."""
    engine = _engine_parser()
    if engine is None:
        return _interim_parse(text)
    parser, ast = engine
    try:
        matchers = parser.parse_metric_selector(text)
    except Exception as exc:  # the parser's ParseError carries Prometheus's message
        if "must contain at least one non-empty matcher" in str(exc):
            # a whole-expression check that ParseMetricSelector does not make: the API's
            # own check reports it, with the API's message
            return _interim_parse(text)
        raise SelectorError(str(exc)) from None
    return [(m.name, m.type, m.value) for m in matchers]


def matches_empty(matcher: Matcher) -> bool:
    _name, op, value = matcher
    if op == "=":
        return value == ""
    if op == "!=":
        return value != ""
    try:
        found = re.fullmatch(value, "") is not None
    except re.error:  # RE2 syntax Python lacks; such patterns do not match "" in practice
        found = False
    return found if op == "=~" else not found


def parse_match_params(selectors: list[str]) -> list[list[Matcher]]:
    """Every match[] selector, each needing a matcher that does not match "" (as Prometheus)."""
    sets = []
    for text in selectors:
        matchers = parse_metric_selector(text)
        if all(matches_empty(m) for m in matchers):
            raise SelectorError("match[] must contain at least one non-empty matcher")
        sets.append(matchers)
    return sets


# --- selection -------------------------------------------------------------

def matching_series_ids(plpy: Any, matchers: list[Matcher]) -> list[int]:
    plan = _plan(plpy, "match", "SELECT _prom_catalog.get_matching_series_ids($1, $2, $3) AS ids",
                 ["text[]", "text[]", "text[]"])
    rows = plpy.execute(plan, [[m[0] for m in matchers], [m[1] for m in matchers], [m[2] for m in matchers]])
    return list(rows[0]["ids"] or [])


def series_in_range(plpy: Any, match_sets: list[list[Matcher]] | None, start: float, end: float) -> list[int]:
    """Ids of series matching any of the sets (all series when None) with samples in [start, end] (Unix s)."""
    if match_sets is None:
        ids = matching_series_ids(plpy, [])
    else:
        seen: set[int] = set()
        for matchers in match_sets:
            seen.update(matching_series_ids(plpy, matchers))
        ids = sorted(seen)
    if not ids:
        return []
    plan = _plan(plpy, "range",
                 "SELECT prom_api.get_series_with_samples($1, _prom_catalog.clamped_timestamptz($2), "
                 "_prom_catalog.clamped_timestamptz($3)) AS ids", ["bigint[]", "float8", "float8"])
    return list(plpy.execute(plan, [ids, start, end])[0]["ids"] or [])


def extract_selectors(query: str) -> list[list[Matcher]]:
    """The matchers of every vector selector in a PromQL expression (parser.ExtractSelectors)."""
    engine = _engine_parser()
    if engine is None:
        return [parse_metric_selector(query)]
    parser, ast = engine
    try:
        node = parser.parse(query)
    except Exception as exc:
        raise SelectorError(str(exc)) from None
    return [_matchers_of(n) for n in ast.walk(node) if isinstance(n, ast.VectorSelector)]
