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


def series_json(plpy: Any, selectors: list[str], start: float, end: float, limit: int | None) -> str:
    if not selectors:
        return gojson.error("bad_data", "no match[] parameter provided")
    try:
        match_sets = parse_match_params(selectors)
    except SelectorError as exc:
        return gojson.error("bad_data", f'invalid parameter "match[]": {exc}')
    ids = series_in_range(plpy, match_sets, start, end)
    label_sets = []
    if ids:
        plan = _plan(plpy, "labels", "SELECT keys, vals FROM prom_api.get_series_labels($1)", ["bigint[]"])
        label_sets = sorted(list(zip(row["keys"], row["vals"])) for row in plpy.execute(plan, [ids]))
    label_sets, warnings = _limited(label_sets, limit)
    return _body(gojson.dumps([dict(pairs) for pairs in label_sets]), warnings)


def label_names_json(plpy: Any, selectors: list[str], start: float, end: float, limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    ids = series_in_range(plpy, match_sets, start, end)
    names: list[str] = []
    if ids:
        plan = _plan(plpy, "names",
                     "SELECT DISTINCT l.key FROM _prom_catalog.label l WHERE l.id IN "
                     "(SELECT DISTINCT u.id FROM unnest($1) AS i(id) JOIN _prom_catalog.series s ON s.id = i.id, "
                     " unnest(s.labels) AS u(id))", ["bigint[]"])
        names = sorted(row["key"] for row in plpy.execute(plan, [ids]))
    names, warnings = _limited(names, limit)
    return _body(gojson.dumps(names), warnings)


def label_values_json(plpy: Any, name: str, selectors: list[str], start: float, end: float,
                      limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    ids = series_in_range(plpy, match_sets, start, end)
    values: list[str] = []
    if ids:
        plan = _plan(plpy, "values",
                     "SELECT DISTINCT l.value FROM _prom_catalog.label l WHERE l.key = $2 AND l.id IN "
                     "(SELECT DISTINCT u.id FROM unnest($1) AS i(id) JOIN _prom_catalog.series s ON s.id = i.id, "
                     " unnest(s.labels) AS u(id))", ["bigint[]", "text"])
        values = sorted(row["value"] for row in plpy.execute(plan, [ids, name]))
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
