"""/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values and /api/v1/metadata.

Each function returns the complete Prometheus response body. Series and label
lookups honour start/end: only series with samples in the range count (see
prom_api.get_series_with_samples), and ``limit`` truncates with the warning
Prometheus 2.51+ gives.
"""

from __future__ import annotations

from typing import Any

from . import gojson
from .selectors import SelectorError, parse_match_params, series_in_range

TRUNCATED = "results truncated due to limit"

_plans: dict[str, Any] = {}


def _plan(plpy: Any, key: str, query: str, types: list[str]) -> Any:
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = plpy.prepare(query, types)
    return plan


def _body(data_json: str, warnings: list[str]) -> str:
    if not warnings:
        return gojson.success(data_json)
    return '{"status":"success","data":' + data_json + ',"warnings":' + gojson.dumps(warnings) + "}"


def _limited(items: list, limit: int | None) -> tuple[list, list[str]]:
    if limit is not None and 0 < limit < len(items):
        return items[:limit], [TRUNCATED]
    return items, []


def _all_series_labels(plpy: Any, column: str, key: str | None, start: float, end: float) -> list[str]:
    """Label names (column "key") or the values of label ``key`` over every series with
    samples in the range, in SQL: no per-series Python work for the catalog-wide lookups
    Grafana's editor makes on start-up."""
    plan = _plan(plpy, "all_" + column,
                 "WITH live AS (SELECT prom_api.get_series_with_samples("
                 "  (SELECT coalesce(array_agg(s.id), '{}') FROM _prom_catalog.series s WHERE s.delete_epoch IS NULL),"
                 "  _prom_catalog.clamped_timestamptz($1), _prom_catalog.clamped_timestamptz($2)) AS ids) "
                 f"SELECT DISTINCT l.{column} AS v FROM _prom_catalog.label l "
                 "WHERE ($3::text IS NULL OR l.key = $3) AND l.id IN ("
                 "  SELECT DISTINCT u.id FROM live, unnest(live.ids) AS i(id) "
                 "  JOIN _prom_catalog.series s ON s.id = i.id, unnest(s.labels) AS u(id))",
                 ["float8", "float8", "text"])
    return [row["v"] for row in plpy.execute(plan, [start, end, key])]


def series_json(plpy: Any, session: dict, selectors: list[str], start: float, end: float,
                limit: int | None) -> str:
    if not selectors:
        return gojson.error("bad_data", "no match[] parameter provided")
    try:
        match_sets = parse_match_params(selectors)
    except SelectorError as exc:
        return gojson.error("bad_data", f'invalid parameter "match[]": {exc}')
    label_sets, warnings = _limited([labels for labels, _ in series_in_range(plpy, session, match_sets, start, end)],
                                    limit)
    return _body(gojson.dumps([dict(pairs) for pairs in label_sets]), warnings)


def label_names_json(plpy: Any, session: dict, selectors: list[str], start: float, end: float,
                     limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    if match_sets is None:
        names = sorted(_all_series_labels(plpy, "key", None, start, end))
    else:
        names = sorted({key for labels, _ in series_in_range(plpy, session, match_sets, start, end)
                        for key, _ in labels})
    names, warnings = _limited(names, limit)
    return _body(gojson.dumps(names), warnings)


def label_values_json(plpy: Any, session: dict, name: str, selectors: list[str], start: float, end: float,
                      limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    if match_sets is None:
        values = sorted(_all_series_labels(plpy, "value", name, start, end))
    else:
        values = sorted({value for labels, _ in series_in_range(plpy, session, match_sets, start, end)
                         for key, value in labels if key == name})
    values, warnings = _limited(values, limit)
    return _body(gojson.dumps(values), warnings)


def metadata_json(plpy: Any, metric: str | None, limit: int | None, limit_per_metric: int | None) -> str:
    """Remote-write metadata by family name: {"family": [{"type", "help", "unit"}, ...]}."""
    plan = _plan(plpy, "metadata",
                 "SELECT metric_family, type, help, unit FROM _prom_catalog.metadata "
                 "WHERE $1::text IS NULL OR metric_family = $1 "
                 "ORDER BY metric_family COLLATE \"C\", last_seen DESC, type, unit, help", ["text"])
    result: dict[str, list[dict[str, str]]] = {}
    for row in plpy.execute(plan, [metric or None]):
        family = row["metric_family"]
        entries = result.get(family)
        if entries is None:
            # Prometheus: a negative limit means no limit, 0 returns nothing
            if limit is not None and limit >= 0 and len(result) >= limit:
                break
            entries = result[family] = []
        if limit_per_metric is not None and 0 < limit_per_metric <= len(entries):
            continue
        entries.append({"type": row["type"], "help": row["help"], "unit": row["unit"]})
    return gojson.success(gojson.dumps(result))
