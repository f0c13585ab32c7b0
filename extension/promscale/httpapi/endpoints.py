"""The Prometheus HTTP API v1, request in, response out: prom_api.http_api(endpoint, form,
settings) answers one request of the connector with the HTTP status and the complete body.

``form`` holds the request's parameters exactly as received (name -> list of strings, as Go's
r.Form), so every check, conversion and message of Prometheus 2.42 is made here (params.py)
and every body written here (gojson.py); the connector parses the HTTP form and forwards.
``settings`` carries the connector's flags a query needs (``subquery_step``: seconds).
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from ..promql import api as promql_api
from ..promql.gofmt import go_quote
from ..promql.parser import ParseError
from ..promql.values import PromQLError
from ..rules import api as rules_api
from . import catalog_api, exemplars_api, gojson, params
from .params import BadData, first, invalid

# (HTTP status, body; None: no body). A range query's body is UTF-8 bytes (promql/api.py's
# range_body writes it so: it can be tens of megabytes); the others are str.
Answer = tuple[int, "str | bytes | None"]
_LABEL_VALUES = re.compile(r"label/(.*)/values", re.DOTALL)

# 2.42 divides by the millisecond step and fails so (a step under 1 ms passes the checks)
DIVIDE_BY_ZERO = "unexpected error: runtime error: integer divide by zero"


def _body(body: str | None) -> Answer:
    """A body with the status its envelope calls for; None (no content): 204."""
    return (204, None) if body is None else (gojson.status_of(body), body)


def _error(error_type: str, message: str) -> Answer:
    return gojson.status_of_error(error_type), gojson.error(error_type, message)


def _lookback_ms(form: dict) -> int | None:
    nanos = params.duration_param(form, "lookback_delta")
    return None if nanos is None else int(nanos / 1e9 * 1000)


def query(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    at = params.time_param(form, "time", int(time.time() * 1000))
    timeout_s = params.timeout_seconds(first(form, "timeout"))
    lookback = _lookback_ms(form)
    return 200, promql_api.instant_body(plpy, session, first(form, "query"), at, timeout_s, lookback,
                                        settings.get("subquery_step"), first(form, "max_source_resolution") or None)


def query_range(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    start, end = params.required_time(form, "start"), params.required_time(form, "end")
    params.check_bounds(start, end)
    step_ns = params.required_duration(form, "step")
    params.check_step(step_ns)
    params.check_points(start, end, step_ns)
    timeout_s = params.timeout_seconds(first(form, "timeout"))
    step_ms = step_ns // 1_000_000  # the engine evaluates at whole milliseconds, like Prometheus
    if step_ms == 0:
        return _error("execution", DIVIDE_BY_ZERO)
    lookback = _lookback_ms(form)
    return 200, promql_api.range_body(plpy, session, first(form, "query"), start, end, step_ms, timeout_s, lookback,
                                      settings.get("subquery_step"), first(form, "max_source_resolution") or None)


def format_query(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    try:
        text = promql_api.format_query(first(form, "query"))
    except ParseError as exc:
        raise invalid("query", str(exc)) from None
    return 200, gojson.success(gojson.json_string(text))


def query_exemplars(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    start, end = params.open_range(form)
    return _body(exemplars_api.query_exemplars_json(plpy, session, first(form, "query"), start / 1000, end / 1000))


def series(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    selectors = params.required_match(form.get("match[]"))
    start, end = params.open_range(form)
    return _body(catalog_api.series_json(plpy, session, selectors, start / 1000, end / 1000,
                                         params.limit_param(form)))


def labels(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    start, end = params.open_range(form)
    return _body(catalog_api.label_names_json(plpy, session, form.get("match[]", []), start / 1000, end / 1000,
                                              params.limit_param(form)))


def label_values(plpy: Any, session: dict, name: str, form: dict) -> Answer:
    if not params.is_label_name(name):
        raise BadData(f"invalid label name: {go_quote(name)}")
    start, end = params.open_range(form)
    return _body(catalog_api.label_values_json(plpy, session, name, form.get("match[]", []), start / 1000,
                                               end / 1000, params.limit_param(form)))


def metadata(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    # Prometheus's message for these is "<name> must be a number"
    limit = params.int_param(form, "limit", "limit must be a number")
    per_metric = params.int_param(form, "limit_per_metric", "limit_per_metric must be a number")
    return _body(catalog_api.metadata_json(plpy, first(form, "metric") or None, limit, per_metric))


def rules(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    return _body(rules_api.rules_json(plpy, first(form, "type") or None))


def alerts(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    return _body(rules_api.alerts_json(plpy))


# the milliseconds PostgreSQL's timestamptz can hold (4713 BC .. 294276 AD); beyond them a bound is open
PG_MIN_MS = -210_866_803_200_000
PG_MAX_MS = 9_224_318_016_000_000


def _bound_seconds(millis: int, default: int) -> float | None:
    """A start/end of delete_series as seconds for to_timestamp(); None: open (±infinity)."""
    if millis == default or not PG_MIN_MS <= millis <= PG_MAX_MS:
        return None
    return millis / 1000.0


def delete_series(plpy: Any, session: dict, form: dict, settings: dict) -> Answer:
    """Every match[] deleted in one subtransaction: a bad selector deletes nothing (204 on success)."""
    selectors = params.required_match(form.get("match[]"))
    start, end = params.open_range(form)
    params.check_bounds(start, end)
    plan = plpy.prepare("SELECT prom_api.delete_series($1, coalesce(pg_catalog.to_timestamp($2), '-infinity'), "
                        "coalesce(pg_catalog.to_timestamp($3), 'infinity'))", ["text", "float8", "float8"])
    bounds = [_bound_seconds(start, params.MIN_TIME_MS), _bound_seconds(end, params.MAX_TIME_MS)]
    try:
        with plpy.subtransaction():
            for selector in selectors:
                plpy.execute(plan, [selector, *bounds])
    except plpy.SPIError as exc:
        if exc.sqlstate == "22023":  # a selector delete_series refuses
            raise invalid("match[]", str(exc).removeprefix("plpy.Error: ")) from None
        if exc.sqlstate == "42501":
            return _error("unavailable", "the connector's database role may not delete series: "
                                         "GRANT prom_admin TO the role of --db-uri")
        raise
    return 204, None


ENDPOINTS: dict[str, Callable[[Any, dict, dict, dict], Answer]] = {
    "query": query, "query_range": query_range, "format_query": format_query, "query_exemplars": query_exemplars,
    "series": series, "labels": labels, "metadata": metadata, "rules": rules, "alerts": alerts,
}
# they write: prom_api.http_admin_api (VOLATILE, prom_admin) answers them, never prom_api.http_api
ADMIN_ENDPOINTS: dict[str, Callable[[Any, dict, dict, dict], Answer]] = {
    "admin/tsdb/delete_series": delete_series,
}


def http_api(plpy: Any, session: dict, endpoint: str, form: dict, settings: dict, admin: bool = False) -> Answer:
    """The answer to a request of ``endpoint`` (the path after /api/v1/: "query",
    "label/job/values", ...); errors are answered in Prometheus's envelope, never raised.
    ``admin``: the admin endpoints, and only they."""
    try:
        values = None if admin else _LABEL_VALUES.fullmatch(endpoint)
        if values:
            return label_values(plpy, session, values.group(1), form)
        handler = (ADMIN_ENDPOINTS if admin else ENDPOINTS).get(endpoint)
        if handler is None:
            return _error("not_found", f"unknown endpoint {go_quote(endpoint)}")
        return handler(plpy, session, form, settings)
    except (BadData, PromQLError) as exc:
        return _error(*promql_api.error_of(exc))
