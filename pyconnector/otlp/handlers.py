"""POST /v1/traces: OTLP/HTTP trace export (protobuf or JSON, gzip or deflate): the handlers of
the route table's "otlp.<name>" endpoints, and the protocol's error hook.

Answers in the request's content type: 200 with an ExportTraceServiceResponse after the
commit; failures carry a google.rpc.Status body. 400 and 413 are never retried by
clients; 503 (database unavailable) is, after Retry-After.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from ..body import read_body
from ..config import Config
from ..db import Database
from ..telemetry import Telemetry
from . import wire
from .failures import failure_of
from .ingest import TraceIngestor

log = logging.getLogger(__name__)


class Otlp:
    """The OTLP/HTTP endpoints: ``on_<name>`` answers the route table's ``otlp.<name>``
    (pyconnector/routing.py); ``error_response`` is the protocol's error hook."""

    def __init__(self, config: Config, db: Database, telemetry: Telemetry):
        self.config = config
        self.telemetry = telemetry
        self.ingestor = TraceIngestor(db, telemetry)

    def error_response(self, request: Request, exc: Exception) -> Response | None:
        """A google.rpc.Status body in the request's content type; None for an unexpected
        error (the application answers 500)."""
        failure = failure_of(exc)
        if failure is None:
            return None
        self.telemetry.error(failure.kind)
        log.info("%s %s: %d %s", request.method, request.path, failure.http_status, failure.message)
        mimetype = request.mimetype if request.mimetype in (wire.PROTOBUF, wire.JSON) else wire.PROTOBUF
        response = Response(wire.encode_status(mimetype, failure.rpc_code, failure.message),
                            status=failure.http_status, mimetype=mimetype)
        if failure.retry:
            response.headers["Retry-After"] = "1"
        if failure.http_status == 408:  # the rest of the body may still come: not a connection to read again
            response.headers["Connection"] = "close"
        return response

    def on_traces(self, request: Request) -> Response:
        body = self._body(request)
        export = wire.parse_body(body, request.mimetype, request.headers.get("Content-Encoding", ""),
                                 self.config.max_decoded_bytes)
        result = self.ingestor.export(export, "http")
        return Response(wire.encode_response(request.mimetype, 0, result.warning), status=200,
                        mimetype=request.mimetype)

    def _body(self, request: Request) -> bytes:
        return read_body(request, self.config.max_body_bytes, self.config.body_timeout)
