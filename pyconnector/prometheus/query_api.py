"""The Prometheus HTTP API v1 (query, metadata and status endpoints).

Parameters are parsed and validated here exactly as Prometheus 2.42 does; the
work and the response bodies come from the extension's prom_api.*_json functions,
which this module forwards. Errors are raised (ApiError, ParamError) and answered
by the protocol's error hook (errors.py) in Prometheus's JSON envelope.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database, DatabaseError, DatabaseUnavailable, QueryFailed, QueryTimeout, first_line
from . import params
from .api_response import ApiError, finish, forward, json_string, success_response
from .params import MAX_TIME_MS, MIN_TIME_MS, ParamError, go_quote, invalid

log = logging.getLogger(__name__)

MAX_POINTS = 11_000
TIMEOUT_MESSAGE = "query timed out in expression evaluation"
LABEL_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")

BUILD_INFO = (
    '{"version":"2.42.0","revision":"promscale","branch":"HEAD","buildUser":"promscale",'
    '"buildDate":"20230131-00:00:00","goVersion":"go1.19.8"}'
)

Handler = Callable[..., Response]


def _seconds(millis: int) -> float:
    return millis / 1000.0


def is_label_name(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and all(ch in LABEL_NAME_CHARS for ch in name)


def http_api(handler: Handler) -> Handler:
    """An endpoint of the HTTP API: it answers CORS preflights (OPTIONS) itself, and its
    answers get the API's headers and gzip (errors get them from the error hook)."""

    @functools.wraps(handler)
    def serve(self: Any, request: Request, **args: Any) -> Response:
        if request.method == "OPTIONS":
            return finish(request, Response(status=204), self.config.cors_origins)
        return finish(request, handler(self, request, **args), self.config.cors_origins)

    return serve


class QueryApiEndpoints:
    """Handlers of /api/v1/query, query_range, series, labels, ...; part of the Prometheus
    handlers (handlers.py), which set these attributes."""

    config: Config
    db: Database
    query_timeout_ns: int
    started: float

    # --- plumbing ---

    def _call(self, sql: str, args: tuple, timeout_ns: int | None = None) -> Any:
        timeout_ms = None if timeout_ns is None else max(1, timeout_ns // 1_000_000)
        try:
            return self.db.call(sql, args, timeout_ms)
        except QueryTimeout:
            raise ApiError("timeout", TIMEOUT_MESSAGE) from None
        except DatabaseUnavailable as exc:
            raise ApiError("unavailable", str(exc), status=503) from None
        except DatabaseError as exc:
            # a bug or a broken installation: Prometheus's storage errors are internal/500
            log.exception("API call failed: %s", sql)
            raise ApiError("internal", first_line(exc)) from None

    def _timeout_ns(self, values: MultiDict) -> int:
        text = values.get("timeout", "")
        if not text:
            return self.query_timeout_ns
        try:
            requested = params.parse_duration_ns(text)
        except ParamError as exc:
            raise ApiError("bad_data", str(invalid("timeout", str(exc)))) from None
        return max(1_000_000, min(requested, self.query_timeout_ns))

    @staticmethod
    def _lookback_seconds(values: MultiDict) -> float | None:
        text = values.get("lookback_delta", "")
        if not text:
            return None
        try:
            return params.parse_duration_ns(text) / 1e9
        except ParamError as exc:
            raise ApiError("bad_data", str(invalid("lookback_delta", str(exc)))) from None

    @staticmethod
    def _range(values: MultiDict) -> tuple[float, float]:
        """start/end for series, labels, values and exemplars (open bounds by default)."""
        try:
            start = params.time_param(values, "start", MIN_TIME_MS)
            end = params.time_param(values, "end", MAX_TIME_MS)
        except ParamError as exc:
            raise ApiError("bad_data", str(exc)) from None
        return _seconds(start), _seconds(end)

    @staticmethod
    def _limit(values: MultiDict) -> int | None:
        try:
            limit = params.int_param(values, "limit")
        except ParamError as exc:
            raise ApiError("bad_data", str(exc)) from None
        return limit if limit is not None and limit > 0 else None

    def _subquery_step(self) -> float | None:
        """--promql-default-subquery-step in seconds; None: the database's setting."""
        return self.config.promql_default_subquery_step or None

    # --- queries ---

    @http_api
    def on_query(self, request: Request) -> Response:
        values = params.form(request)
        try:
            at = params.time_param(values, "time", int(time.time() * 1000))
        except ParamError as exc:
            raise ApiError("bad_data", str(exc)) from None
        timeout_ns = self._timeout_ns(values)
        lookback = self._lookback_seconds(values)
        # max_source_resolution (Thanos's parameter: raw, 5m, 1h, auto) is checked by the extension
        body = self._call("SELECT prom_api.query_json(%s::text, %s::float8, %s::text, %s::float8, %s::float8, %s::text)",
                          (values.get("query", ""), _seconds(at), values.get("timeout") or None, lookback,
                           self._subquery_step(), values.get("max_source_resolution") or None), timeout_ns)
        return forward(body)

    @http_api
    def on_query_range(self, request: Request) -> Response:
        values = params.form(request)
        bounds = {}
        for name in ("start", "end"):
            try:
                bounds[name] = params.parse_time(values.get(name, ""))
            except ParamError as exc:
                raise ApiError("bad_data", str(invalid(name, str(exc)))) from None
        start, end = bounds["start"], bounds["end"]
        if end < start:
            raise ApiError("bad_data", str(invalid("end", "end timestamp must not be before start time")))
        try:
            step_ns = params.parse_duration_ns(values.get("step", ""))
        except ParamError as exc:
            raise ApiError("bad_data", str(invalid("step", str(exc)))) from None
        if step_ns <= 0:
            raise ApiError("bad_data", str(invalid(
                "step", "zero or negative query resolution step widths are not accepted. Try a positive integer")))
        # Go: end.Sub(start) / step on int64 nanoseconds (saturating subtraction, truncating division)
        span_ns = min((end - start) * 1_000_000, params.INT64_MAX)
        if span_ns // step_ns > MAX_POINTS:
            raise ApiError("bad_data", "exceeded maximum resolution of 11,000 points per timeseries. "
                                       "Try decreasing the query resolution (?step=XX)")
        timeout_ns = self._timeout_ns(values)
        step_ms = step_ns // 1_000_000  # the engine evaluates at whole milliseconds, like Prometheus
        if step_ms == 0:
            # Prometheus 2.42 divides by the millisecond step and fails the same way
            raise ApiError("execution", "unexpected error: runtime error: integer divide by zero")
        lookback = self._lookback_seconds(values)
        body = self._call("SELECT prom_api.query_range_json(%s::text, %s::float8, %s::float8, %s::float8, "
                          "%s::text, %s::float8, %s::float8, %s::text)",
                          (values.get("query", ""), _seconds(start), _seconds(end), step_ms / 1000.0,
                           values.get("timeout") or None, lookback, self._subquery_step(),
                           values.get("max_source_resolution") or None), timeout_ns)
        return forward(body)

    @http_api
    def on_format_query(self, request: Request) -> Response:
        values = params.form(request)
        try:
            text = self._call("SELECT prom_api.format_query(%s::text)", (values.get("query", ""),))
        except QueryFailed as exc:
            raise ApiError("bad_data", str(invalid("query", str(exc)))) from None
        return success_response(json_string(text))

    @http_api
    def on_query_exemplars(self, request: Request) -> Response:
        values = params.form(request)
        start, end = self._range(values)
        return forward(self._call("SELECT prom_api.query_exemplars_json(%s, %s, %s)",
                                  (values.get("query", ""), start, end), self.query_timeout_ns))

    # --- series and labels ---

    @http_api
    def on_series(self, request: Request) -> Response:
        values = params.form(request)
        if not values.getlist("match[]"):
            raise ApiError("bad_data", "no match[] parameter provided")
        start, end = self._range(values)
        return forward(self._call("SELECT prom_api.series_json(%s, %s, %s, %s)",
                                  (values.getlist("match[]"), start, end, self._limit(values)), self.query_timeout_ns))

    @http_api
    def on_labels(self, request: Request) -> Response:
        values = params.form(request)
        start, end = self._range(values)
        return forward(self._call("SELECT prom_api.label_names_json(%s, %s, %s, %s)",
                                  (values.getlist("match[]"), start, end, self._limit(values)), self.query_timeout_ns))

    @http_api
    def on_label_values(self, request: Request, name: str) -> Response:
        if not is_label_name(name):
            raise ApiError("bad_data", f"invalid label name: {go_quote(name)}")
        values = params.form(request)
        start, end = self._range(values)
        return forward(self._call("SELECT prom_api.label_values_json(%s, %s, %s, %s, %s)",
                                  (name, values.getlist("match[]"), start, end, self._limit(values)),
                                  self.query_timeout_ns))

    @http_api
    def on_metadata(self, request: Request) -> Response:
        values = params.form(request)
        # Prometheus's message for these is "<name> must be a number"
        limit = params.int_param(values, "limit", lambda _text: "limit must be a number")
        per_metric = params.int_param(values, "limit_per_metric", lambda _text: "limit_per_metric must be a number")
        return forward(self._call("SELECT prom_api.metadata_json(%s, %s, %s)",
                                  (values.get("metric") or None, limit, per_metric)))

    # --- status: what Grafana and promtool probe ---

    @http_api
    def on_buildinfo(self, request: Request) -> Response:
        # no "features" key: Grafana then classifies the source as plain Prometheus
        return success_response(BUILD_INFO)

    @http_api
    def on_runtimeinfo(self, request: Request) -> Response:
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started))
        return success_response(
            '{"startTime":"' + started + '","CWD":"/","reloadConfigSuccess":true,"lastConfigTime":"' + started +
            '","corruptionCount":0,"goroutineCount":0,"GOMAXPROCS":0,"GOGC":"","GODEBUG":"","storageRetention":""}')

    # --- rules and alerts (evaluated by the extension: docs/rules.md) ---

    @http_api
    def on_rules(self, request: Request) -> Response:
        return forward(self._call("SELECT prom_api.rules_json(%s)", (params.form(request).get("type") or None,)))

    @http_api
    def on_alerts(self, request: Request) -> Response:
        return forward(self._call("SELECT prom_api.alerts_json()", ()))


