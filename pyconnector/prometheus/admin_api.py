"""The Prometheus admin API: POST/PUT /api/v1/admin/tsdb/delete_series, as Prometheus 2.42
serves it (web/api/v1/api.go deleteSeries) over the extension's prom_api.delete_series.

Served only with --web-enable-admin-api (else Prometheus's ``unavailable`` "admin APIs
disabled"); when auth is on, only the admin role reaches it (routing.py). Every match[]
is deleted in one transaction: a bad selector deletes nothing.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database, DatabaseUnavailable, InsufficientPrivilege, QueryFailed, QueryTimeout
from . import params
from .api_response import ApiError
from .params import MAX_TIME_MS, MIN_TIME_MS, ParamError, invalid
from .query_api import http_api

log = logging.getLogger(__name__)

# the milliseconds PostgreSQL's timestamptz can hold (4713 BC .. 294276 AD); beyond them a bound is open
PG_MIN_MS = -210_866_803_200_000
PG_MAX_MS = 9_224_318_016_000_000


def bound_seconds(millis: int, default: int) -> float | None:
    """A start/end as float seconds for to_timestamp(); None: open (±infinity)."""
    if millis == default or not PG_MIN_MS <= millis <= PG_MAX_MS:
        return None
    return millis / 1000.0


class AdminApiEndpoints:
    """Handler of /api/v1/admin/tsdb/delete_series; part of the Prometheus handlers
    (handlers.py), which set these attributes."""

    config: Config
    db: Database
    query_timeout_ns: int

    @http_api
    def on_delete_series(self, request: Request) -> Response:
        if not self.config.web_enable_admin_api:
            raise ApiError("unavailable", "admin APIs disabled")
        values = params.form(request)
        selectors = values.getlist("match[]")
        if not selectors:
            raise ApiError("bad_data", "no match[] parameter provided")
        try:
            start = params.time_param(values, "start", MIN_TIME_MS)
            end = params.time_param(values, "end", MAX_TIME_MS)
        except ParamError as exc:
            raise ApiError("bad_data", str(exc)) from None
        if end < start:
            raise ApiError("bad_data", str(invalid("end", "end timestamp must not be before start time")))
        try:
            deleted = self.db.delete_series(selectors, bound_seconds(start, MIN_TIME_MS),
                                            bound_seconds(end, MAX_TIME_MS), self.query_timeout_ns // 1_000_000)
        except QueryFailed as exc:
            raise ApiError("bad_data", str(invalid("match[]", str(exc)))) from None
        except InsufficientPrivilege:
            log.warning("delete_series refused: the connector's database login role lacks prom_admin")
            raise ApiError("unavailable", "the connector's database role may not delete series: "
                                          "GRANT prom_admin TO the role of --db-uri") from None
        except QueryTimeout:
            raise ApiError("timeout", "delete_series timed out (--query-timeout); nothing was deleted") from None
        except DatabaseUnavailable as exc:
            raise ApiError("unavailable", str(exc), status=503) from None
        log.info("delete_series %s [%s, %s]: %d samples deleted", selectors, start, end, deleted)
        return Response(status=204)
