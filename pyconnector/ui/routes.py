"""The UI's routes and handlers; app.py adds RULES to its route table and UiHandlers' handlers."""

from __future__ import annotations

import json
from typing import Callable

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..db import Database
from . import status_data
from .static_files import StaticFiles

RULES = [
    Rule("/", endpoint="ui_graph", methods=["GET", "HEAD"]),
    Rule("/graph", endpoint="ui_graph", methods=["GET", "HEAD"]),
    Rule("/query", endpoint="ui_graph", methods=["GET", "HEAD"]),  # Prometheus 3's name of the page
    Rule("/traces", endpoint="ui_traces", methods=["GET", "HEAD"]),
    Rule("/status", endpoint="ui_status", methods=["GET", "HEAD"]),
    Rule("/ui/static/<path:file>", endpoint="ui_static", methods=["GET", "HEAD"]),
    Rule("/ui/api/status", endpoint="ui_status_data", methods=["GET"]),
    Rule("/ui/api/metric-storage", endpoint="ui_metric_storage", methods=["GET"]),
]


class UiHandlers:
    def __init__(self, db: Database, connector_version: str, files: StaticFiles | None = None):
        self.db = db
        self.connector_version = connector_version
        self.files = files or StaticFiles()

    def handlers(self) -> dict[str, Callable[..., Response]]:
        return {
            "ui_graph": lambda request: self.files.response(request, "graph.html"),
            "ui_traces": lambda request: self.files.response(request, "traces.html"),
            "ui_status": lambda request: self.files.response(request, "status.html"),
            "ui_static": lambda request, file: self.files.response(request, file),
            "ui_status_data": self.on_status_data,
            "ui_metric_storage": self.on_metric_storage,
        }

    def on_status_data(self, request: Request) -> Response:
        return _json(status_data.status(self.db, self.connector_version))

    def on_metric_storage(self, request: Request) -> Response:
        return _json({"metrics": status_data.metric_storage(self.db)})


def _json(body: object) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
