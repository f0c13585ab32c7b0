"""The Prometheus admin API: POST/PUT /api/v1/admin/tsdb/delete_series, as Prometheus 2.42
serves it (web/api/v1/api.go deleteSeries) through the extension's prom_api.http_admin_api,
which checks the parameters and deletes every match[] in one statement (a bad selector
deletes nothing).

Served only with --web-enable-admin-api (else Prometheus's ``unavailable`` "admin APIs
disabled"); when auth is on, only the admin role reaches it (routing.py). It writes: always on
the primary, never a read replica.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database, DatabaseUnavailable, QueryTimeout
from .api_response import ApiError, answer
from .query_api import form, form_json, http_api

log = logging.getLogger(__name__)

HTTP_ADMIN_API = "SELECT pg_catalog.jsonb_build_array(status, body) FROM prom_api.http_admin_api(%s, %s::jsonb)"


class AdminApiEndpoints:
    """Handler of /api/v1/admin/tsdb/delete_series; part of the Prometheus handlers
    (handlers.py), which set these attributes."""

    config: Config
    db: Database

    @http_api
    def on_delete_series(self, request: Request) -> Response:
        if not self.config.web_enable_admin_api:
            raise ApiError("unavailable", "admin APIs disabled", 500)
        values = form(request)
        try:
            status, body = self.db.call_on_primary(HTTP_ADMIN_API, ("admin/tsdb/delete_series", form_json(values)))
        except QueryTimeout:
            raise ApiError("timeout", "delete_series timed out (--query-timeout); nothing was deleted", 503) from None
        except DatabaseUnavailable as exc:
            raise ApiError("unavailable", str(exc), 503) from None
        log.info("delete_series %s [%s, %s]: %d", values.getlist("match[]"), values.get("start"), values.get("end"),
                 status)
        return answer(status, body)
