"""/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values and /api/v1/metadata.

Each function returns the complete Prometheus response body. Series and label lookups honour
start/end through the catalog's activity bounds (sql/idempotent/045-activity.sql), never by
reading samples: without match[], label names come from _prom_catalog.label_key (O(keys)) and
the values of one label from its index range (O(values)); with bare metric names as match[],
from the metric's keys and labels (label_key_position, metric_label); with other match[], the
matching series come from the GIN index on their labels and are filtered by their bounds
(O(series matched)).
``limit`` truncates with the warning Prometheus 2.51+ gives.
"""

from __future__ import annotations

from typing import Any

from ..promql import ast
from ..promql.regex import compile_anchored
from ..promql.storage import SqlStorage
from . import gojson
from .params import BadData, required_match
from .selectors import SelectorError, active_series_query, parse_match_params, sorted_label_sets

TRUNCATED = "results truncated due to limit"

# start/end arrive as Unix seconds; clients send open bounds far outside timestamptz's range.
# As scalar subqueries they are computed once per execution: clamped_timestamptz is not
# inlined (its SET clause), and a generic plan would otherwise call it for every row.
START = "(SELECT _prom_catalog.clamped_timestamptz($1))"
END = "(SELECT _prom_catalog.clamped_timestamptz($2))"

_plans: dict[Any, Any] = {}


def _plan(plpy: Any, key: Any, query: str, types: list[str]) -> Any:
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = plpy.prepare(query, types)
    return plan




def _limited(items: list, limit: int | None) -> tuple[list, list[str]]:
    if limit is not None and 0 < limit < len(items):
        return items[:limit], [TRUNCATED]
    return items, []


def _over_matched(plpy: Any, session: dict, match_sets: list, start: float, end: float, select: str,
                  extra_type: str | None = None, extra: Any = None) -> list[dict]:
    """Rows of ``select`` over ``{matched}``: the live series matching match_sets with activity in
    [start, end]. ``select`` may use one more parameter, ``${extra}``, of type ``extra_type``."""
    query = active_series_query(plpy, session, match_sets, START, END, first_param=3)
    if query is None:
        return []
    sql, params = query
    # OFFSET 0 keeps the selection a subquery of its own: the GIN index first, whatever the plan
    # (a generic plan otherwise joins the key positions first and probes the series per metric)
    sql = f"SELECT * FROM ({sql}) AS u OFFSET 0"
    text = select.format(matched=sql, extra=len(params) + 3)
    types = ["float8", "float8"] + ["int4[]"] * len(params) + ([extra_type] if extra_type else [])
    plan = _plan(plpy, text, text, types)
    return plpy.execute(plan, [start, end, *params] + ([extra] if extra_type else []))


def series_json(plpy: Any, session: dict, selectors: list[str], start: float, end: float,
                limit: int | None) -> str:
    try:
        match_sets = parse_match_params(required_match(selectors))
    except BadData as exc:
        return gojson.error("bad_data", str(exc))
    except SelectorError as exc:
        return gojson.error("bad_data", f'invalid parameter "match[]": {exc}')
    # one row for all the series (SqlStorage.label_sets)
    rows = _over_matched(plpy, session, match_sets, start, end,
                         "SELECT array_agg(cardinality(m.labels)) AS widths, "
                         "string_agg(array_to_string(m.labels, ' '), ' ') AS labels FROM ({matched}) m")
    found = sorted_label_sets(plpy, session, rows[0]["widths"] or [], rows[0]["labels"]) if rows else []
    found, warnings = _limited(found, limit)
    return gojson.success(gojson.label_sets(found), warnings)


def _restricted(plpy: Any, session: dict) -> bool:
    """Whether this statement sees only some tenants' series (multitenancy): then the catalog's
    installation-wide shortcuts (label_key, label ranges, metric_label, label_key_position)
    would show other tenants' names and values, and answers come from the visible series."""
    return SqlStorage(plpy, session).visibility() is not None


def _every_series() -> list[list[ast.Matcher]]:
    """The match sets selecting every series ({__name__=~".+"})."""
    return [[ast.Matcher("=~", "__name__", ".+", compile_anchored(".+"))]]


def label_names_json(plpy: Any, session: dict, selectors: list[str], start: float, end: float,
                     limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    if match_sets is None and _restricted(plpy, session):
        match_sets = _every_series()
    if match_sets is None:
        plan = _plan(plpy, "names", f"SELECT prom_api.get_active_label_names({START}, {END}) AS v",
                     ["float8", "float8"])
        names = plpy.execute(plan, [start, end])[0]["v"]
    else:
        names = _names_of_matched(plpy, session, match_sets, start, end)
    names, warnings = _limited(sorted(names or []), limit)
    return gojson.success(gojson.string_list(names), warnings)


# Label names of the matched series in one cheap pass however many they are (reading every key
# of every series costs ten times more): a labels array without an absent key (0) has all of
# its metric's keys up to its length, so per metric the longest such array gives them; only
# arrays with an absent key in the middle have their positions read, in a second pass.
_NAMES_FULL = (
    "WITH pm AS ("
    "  SELECT m.metric_id, max(cardinality(m.labels)) FILTER (WHERE NOT m.gap) AS full, bool_or(m.gap) AS gaps"
    "  FROM (SELECT s.metric_id, s.labels, s.labels @> '{{0}}' AS gap FROM ({matched}) s) m"
    "  GROUP BY m.metric_id) "
    "SELECT (SELECT array_agg(DISTINCT p.key) FROM pm "
    "        JOIN _prom_catalog.label_key_position p ON p.metric_id = pm.metric_id AND p.pos <= pm.full) AS v, "
    "       (SELECT array_agg(pm.metric_id) FROM pm WHERE pm.gaps) AS gappy")
_NAMES_GAPPY = (
    "SELECT array_agg(DISTINCT p.key) AS v FROM ({matched}) m "
    "JOIN _prom_catalog.label_key_position p ON p.metric_id = m.metric_id AND m.labels[p.pos] <> 0 "
    "WHERE m.labels @> '{{0}}' AND m.metric_id = ANY(${extra})")


def _metric_names(match_sets: list) -> list[str] | None:
    """The metric names, when every selector is a bare one (``up``, ``{__name__="up"}``)."""
    names = []
    for matchers in match_sets:
        if len(matchers) != 1 or matchers[0].name != "__name__" or matchers[0].type != "=":
            return None
        names.append(matchers[0].value)
    return names


def _names_of_matched(plpy: Any, session: dict, match_sets: list, start: float, end: float) -> list[str]:
    metrics = _metric_names(match_sets) if not _restricted(plpy, session) else None
    if metrics is not None:
        # what Grafana asks once a metric is picked: the metric's keys and their activity
        # bounds (label_key_position), O(keys of the metric) however many series it has
        plan = _plan(plpy, "metric_names",
                     "SELECT array_agg(DISTINCT p.key) AS v FROM _prom_catalog.metric m "
                     "JOIN _prom_catalog.label_key_position p ON p.metric_id = m.id "
                     f"WHERE m.metric_name = ANY($3) AND p.first_seen <= {END} AND p.last_seen >= {START} "
                     f"AND {START} <= {END}", ["float8", "float8", "text[]"])
        return plpy.execute(plan, [start, end, metrics])[0]["v"] or []
    rows = _over_matched(plpy, session, match_sets, start, end, _NAMES_FULL)
    if not rows:
        return []
    names = set(rows[0]["v"] or ())
    if rows[0]["gappy"]:
        gappy = _over_matched(plpy, session, match_sets, start, end, _NAMES_GAPPY, "int4[]", rows[0]["gappy"])
        names.update(gappy[0]["v"] or ())
    return list(names)


def label_values_json(plpy: Any, session: dict, name: str, selectors: list[str], start: float, end: float,
                      limit: int | None) -> str:
    try:
        match_sets = parse_match_params(selectors) if selectors else None
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    restricted = _restricted(plpy, session)
    if match_sets is None and restricted:
        match_sets = _every_series()
    if match_sets is None:
        plan = _plan(plpy, "values", f"SELECT prom_api.get_active_label_values($3, {START}, {END}) AS v",
                     ["float8", "float8", "text"])
        values = plpy.execute(plan, [start, end, name])[0]["v"]
    elif not restricted and (metrics := _metric_names(match_sets)) is not None:
        # Grafana's label_values(metric, name): the (metric, name) range of metric_label,
        # O(values of the name in the metric) however many series the metric has
        plan = _plan(plpy, "metric_values",
                     "SELECT array_agg(DISTINCT l.value) AS v FROM _prom_catalog.metric m "
                     "JOIN _prom_catalog.metric_label ml ON ml.metric_id = m.id AND ml.key = $4 "
                     "JOIN _prom_catalog.label l ON l.id = ml.label_id "
                     f"WHERE m.metric_name = ANY($3) AND ml.first_seen <= {END} AND ml.last_seen >= {START} "
                     f"AND {START} <= {END}", ["float8", "float8", "text[]", "text"])
        values = plpy.execute(plan, [start, end, metrics, name])[0]["v"]
    else:
        rows = _over_matched(plpy, session, match_sets, start, end, _VALUES_OF_MATCHED, "text", name)
        values = rows[0]["v"] if rows else None
    values, warnings = _limited(sorted(values or []), limit)
    return gojson.success(gojson.string_list(values), warnings)


# Values of a label among the matched series, each read once: the label id at the key's position.
_VALUES_OF_MATCHED = (
    "SELECT array_agg(l.value) AS v FROM _prom_catalog.label l WHERE l.id IN ("
    "  SELECT m.labels[p.pos] FROM ({matched}) m "
    "  JOIN _prom_catalog.label_key_position p ON p.metric_id = m.metric_id AND p.key = ${extra})")


def metadata_json(plpy: Any, metric: str | None, limit: int | None, limit_per_metric: int | None) -> str:
    """Remote-write metadata by family name: {"family": [{"type", "help", "unit"}, ...]}, of the
    tenants this statement may see."""
    plan = _plan(plpy, "metadata",
                 "SELECT metric_family, type, help, unit FROM _prom_catalog.metadata "
                 # the metadata of the tenants this statement may see (sql/idempotent/012-tenancy.sql)
                 "WHERE ($1::text IS NULL OR metric_family = $1) "
                 "  AND coalesce(tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]), true) "
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
        entry = {"type": row["type"], "help": row["help"], "unit": row["unit"]}
        if entry in entries:  # the same text of two tenants, read by a role that sees both
            continue
        if limit_per_metric is not None and 0 < limit_per_metric <= len(entries):
            continue
        entries.append(entry)
    return gojson.success(gojson.dumps(result))
