"""match[] selectors and exemplar queries → series, with the PromQL engine's own parser
and series lookup (promscale.promql), so that /series, /labels and /query agree on what
a selector selects (RE2 regex semantics included)."""

from __future__ import annotations

from typing import Any

from ..promql import ast
from ..promql.parser import parse
from ..promql.parser import parse_metric_selector as engine_parse_metric_selector
from ..promql.storage import SqlStorage, _label_order_key

NON_EMPTY = "match[] must contain at least one non-empty matcher"
Series = tuple[tuple[tuple[str, str], ...], int]  # (sorted label pairs, series id)



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


def active_series_query(plpy: Any, session: dict, match_sets: list[list[ast.Matcher]], start_sql: str,
                        end_sql: str, first_param: int) -> tuple[str, list[list[int]]] | None:
    """SQL of (id, metric_id, labels) of the live series matching any of the sets whose activity
    bounds meet [start_sql, end_sql] (timestamptz expressions; see sql/idempotent/045-activity.sql),
    and its label-id parameters, numbered from ``first_param``; None when no series can match.
    Each matcher is an overlap test that the GIN index on series.labels answers, so the cost
    follows the series matched, not the size of the catalog."""
    storage = SqlStorage(plpy, session)
    parts: list[str] = []
    params: list[list[int]] = []
    for matchers in match_sets:
        filters = storage.label_id_filters(matchers)
        if filters is None:
            continue
        pos, neg = filters
        conds = ["s.delete_epoch IS NULL", f"s.first_seen <= {end_sql}", f"s.last_seen >= {start_sql}",
                 f"{start_sql} <= {end_sql}"]
        for ids, negate in [(ids, False) for ids in pos] + [(ids, True) for ids in neg]:
            conds.append(f"{'NOT ' if negate else ''}s.labels OPERATOR(pg_catalog.&&) ${first_param + len(params)}")
            params.append(ids)
        parts.append("SELECT s.id, s.metric_id, s.labels FROM _prom_catalog.series s WHERE " + " AND ".join(conds))
    if not parts:
        return None
    return " UNION ".join(parts), params


def sorted_label_sets(plpy: Any, session: dict, widths: list[int],
                      labels_text: str | None) -> list[tuple[tuple[str, str], ...]]:
    """Label sets (sorted (key, value) pairs) of labels arrays aggregated in one row
    (SqlStorage.label_sets, through the engine's session label cache), in Prometheus's order,
    with the engine's sort key (one string per set: twice as fast as comparing tuples)."""
    sets = SqlStorage(plpy, session).label_sets(widths, labels_text)
    return sorted(sets, key=lambda pairs: _label_order_key((pairs,)))
