"""match[] selectors and exemplar queries → series, with the PromQL engine's own parser
and series lookup (promscale.promql), so that /series, /labels and /query agree on what
a selector selects (RE2 regex semantics included)."""

from __future__ import annotations

from typing import Any

from ..promql import ast
from ..promql.parser import parse
from ..promql.parser import parse_metric_selector as engine_parse_metric_selector
from ..promql.storage import SqlStorage

NON_EMPTY = "match[] must contain at least one non-empty matcher"
Series = tuple[tuple[tuple[str, str], ...], int]  # (sorted label pairs, series id)

_plans: dict[str, Any] = {}


class SelectorError(Exception):
    """A selector that does not parse or select; the message is Prometheus's."""


def parse_metric_selector(text: str) -> list[ast.Matcher]:
    """The matchers of one series selector such as ``up{job="node"}`` (parser.ParseMetricSelector)."""
    try:
        matchers = engine_parse_metric_selector(text)
    except Exception as exc:  # the parser's ParseError carries Prometheus's message
        raise SelectorError(str(exc)) from None
    return matchers


def parse_match_params(selectors: list[str]) -> list[list[ast.Matcher]]:
    """Every match[] selector, each needing a matcher that does not match "" (as Prometheus)."""
    sets = []
    for text in selectors:
        matchers = parse_metric_selector(text)
        if all(m.matches("") for m in matchers):
            raise SelectorError(NON_EMPTY)
        sets.append(matchers)
    return sets


def extract_selectors(query: str) -> list[list[ast.Matcher]]:
    """The matchers of every vector selector in a PromQL expression (parser.ExtractSelectors)."""
    try:
        node = parse(query)
    except Exception as exc:
        raise SelectorError(str(exc)) from None
    return [n.matchers for n in ast.walk(node) if isinstance(n, ast.VectorSelector)]


def select_series(plpy: Any, session: dict, match_sets: list[list[ast.Matcher]] | None) -> list[Series]:
    """Series matching any of the sets (every series when None), sorted by labels."""
    storage = SqlStorage(plpy, session)
    found: dict[int, tuple] = {}
    for matchers in match_sets if match_sets is not None else [[]]:
        for labels, sid in storage.series_for(matchers):
            found[sid] = labels
    return sorted((labels, sid) for sid, labels in found.items())


def series_in_range(plpy: Any, session: dict, match_sets: list[list[ast.Matcher]] | None,
                    start: float, end: float) -> list[Series]:
    """The selected series with samples in [start, end] (Unix seconds), sorted by labels."""
    series = select_series(plpy, session, match_sets)
    if not series:
        return []
    plan = _plans.get("range")
    if plan is None:
        plan = _plans["range"] = plpy.prepare(
            "SELECT prom_api.get_series_with_samples($1, _prom_catalog.clamped_timestamptz($2), "
            "_prom_catalog.clamped_timestamptz($3)) AS ids", ["bigint[]", "float8", "float8"])
    keep = set(plpy.execute(plan, [[sid for _, sid in series], start, end])[0]["ids"] or [])
    return [s for s in series if s[1] in keep]
