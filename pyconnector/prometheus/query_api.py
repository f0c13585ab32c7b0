"""The Prometheus HTTP API v1 (query, metadata, rules and status endpoints).

A request's parameters go to the extension as received (``form``: GET query string and POST
form merged as Go's r.Form, repeated match[] kept); prom_api.http_api checks them as
Prometheus 2.42 does and answers the HTTP status and the whole body, errors included
(extension/promscale/httpapi/). This module parses the HTTP form, bounds the statement, and
answers itself only what the database cannot: it was unreachable, cancelled the statement or
failed (ApiError, answered by the protocol's error hook, errors.py).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any, Callable

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database, DatabaseError, DatabaseUnavailable, QueryTimeout, TimeoutStatement, first_line
from .api_response import ApiError, answer, finish

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = "query timed out in expression evaluation"
HTTP_API = "SELECT status, body FROM prom_api.http_api(%s, %s::jsonb, %s::jsonb)"
# the request's `timeout` bounded by --query-timeout, set in the request's round trip
TIMEOUT_SETTING = ("SELECT pg_catalog.set_config('statement_timeout', "
                   "_prom_catalog.http_statement_timeout(%s, %s), true)")

BUILD_INFO = (
    '{"status":"success","data":{"version":"2.42.0","revision":"promscale","branch":"HEAD","buildUser":"promscale",'
    '"buildDate":"20230131-00:00:00","goVersion":"go1.19.8"}}'
)

Handler = Callable[..., Response]


def form(request: Request) -> MultiDict:
    """URL and form-body parameters merged as Go's r.Form: body values first."""
    merged: MultiDict = MultiDict()
    for source in (request.form, request.args):
        for key, values in source.lists():
            for value in values:
                merged.add(key, value)
    return merged


def form_json(values: MultiDict) -> str:
    """The parameters as prom_api.http_api takes them: name -> every value, in order."""
    return json.dumps({name: values.getlist(name) for name in values.keys()}, ensure_ascii=False)


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

    def _api(self, endpoint: str, request: Request, timed: bool = False) -> Response:
        """The extension's answer to ``endpoint`` (the path after /api/v1/). ``timed``: the
        request's ``timeout`` parameter bounds the statement too (query, query_range)."""
        values = form(request)
        timeout = None
        if timed and values.get("timeout"):
            timeout = TimeoutStatement(TIMEOUT_SETTING, (values.get("timeout"), self.query_timeout_ns // 1_000_000))
        settings = json.dumps({"subquery_step": self.config.promql_default_subquery_step or None})
        try:
            rows = self.db.query(HTTP_API, (endpoint, form_json(values), settings), timeout)
        except QueryTimeout:
            raise ApiError("timeout", TIMEOUT_MESSAGE, 503) from None
        except DatabaseUnavailable as exc:
            raise ApiError("unavailable", str(exc), 503) from None
        except DatabaseError as exc:
            # a bug or a broken installation: Prometheus's storage errors are internal/500
            log.exception("API call failed: %s", endpoint)
            raise ApiError("internal", first_line(exc), 500) from None
        status, body = rows[0]
        return answer(status, body)

    # --- queries ---

    @http_api
    def on_query(self, request: Request) -> Response:
        return self._api("query", request, timed=True)

    @http_api
    def on_query_range(self, request: Request) -> Response:
        return self._api("query_range", request, timed=True)

    @http_api
    def on_format_query(self, request: Request) -> Response:
        return self._api("format_query", request)

    @http_api
    def on_query_exemplars(self, request: Request) -> Response:
        return self._api("query_exemplars", request)

    # --- series, labels and metadata ---

    @http_api
    def on_series(self, request: Request) -> Response:
        return self._api("series", request)

    @http_api
    def on_labels(self, request: Request) -> Response:
        return self._api("labels", request)

    @http_api
    def on_label_values(self, request: Request, name: str) -> Response:
        return self._api(f"label/{name}/values", request)

    @http_api
    def on_metadata(self, request: Request) -> Response:
        return self._api("metadata", request)

    # --- status: what Grafana and promtool probe (no database call) ---

    @http_api
    def on_buildinfo(self, request: Request) -> Response:
        # no "features" key: Grafana then classifies the source as plain Prometheus
        return answer(200, BUILD_INFO)

    @http_api
    def on_runtimeinfo(self, request: Request) -> Response:
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started))
        return answer(200,
                      '{"status":"success","data":{"startTime":"' + started + '","CWD":"/","reloadConfigSuccess":true,'
                      '"lastConfigTime":"' + started + '","corruptionCount":0,"goroutineCount":0,"GOMAXPROCS":0,'
                      '"GOGC":"","GODEBUG":"","storageRetention":""}}')

    # --- rules and alerts (evaluated by the extension: docs/rules.md) ---

    @http_api
    def on_rules(self, request: Request) -> Response:
        return self._api("rules", request)

    @http_api
    def on_alerts(self, request: Request) -> Response:
        return self._api("alerts", request)
