"""The web UI's handlers: ``on_<name>`` answers the route table's ``ui.<name>`` (pyconnector/routing.py)."""

from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response

from ..db import Database
from . import status_data
from .static_files import StaticFiles


class Ui:
    """The pages, their files, and the status page's data."""

    def __init__(self, db: Database, connector_version: str, files: StaticFiles | None = None):
        self.db = db
        self.connector_version = connector_version
        self.files = files or StaticFiles()

    def error_response(self, request: Request, exc: Exception) -> Response | None:
        """None: the application's hook answers (a missing file is werkzeug's 404, the database
        unavailable a 503)."""
        return None

    def on_graph(self, request: Request) -> Response:
        return self.files.response(request, "graph.html")

    def on_traces(self, request: Request) -> Response:
        return self.files.response(request, "traces.html")

    def on_status(self, request: Request) -> Response:
        return self.files.response(request, "status.html")

    def on_static(self, request: Request, file: str) -> Response:
        return self.files.response(request, file)

    def on_status_data(self, request: Request) -> Response:
        return _json(status_data.status(self.db, self.connector_version))

    def on_metric_storage(self, request: Request) -> Response:
        return _json({"metrics": status_data.metric_storage(self.db)})


def _json(body: object) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
