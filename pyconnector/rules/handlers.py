"""The rule endpoints of the connector: POST /-/reload reads the rule files again (as
Prometheus's /-/reload), answering 200, or 400 naming what is wrong in them."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from .loader import RuleFileError, RuleFiles


class Rules:
    def __init__(self, files: RuleFiles):
        self.files = files

    def on_reload(self, request: Request) -> Response:
        if self.files.configured:
            self.files.load()
        return Response("", status=200)

    def error_response(self, request: Request, exc: Exception) -> Response | None:
        if isinstance(exc, RuleFileError):
            return Response(f"failed to reload config: {exc}\n".replace("\n", " ").rstrip() + "\n", status=400,
                            mimetype="text/plain")
        return None
