"""POST /v1/traces: OTLP/HTTP trace export (protobuf or JSON, gzip or deflate).

Answers in the request's content type: 200 with an ExportTraceServiceResponse after the
commit; failures carry a google.rpc.Status body. 400 and 413 are never retried by
clients; 503 (database unavailable) is, after Retry-After.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from . import otlp
from .config import Config
from .db import Database, DatabaseUnavailable, InvalidData
from .telemetry import Telemetry
from .traces import TraceIngestor

log = logging.getLogger(__name__)


class OtlpHttp:
    def __init__(self, config: Config, db: Database, telemetry: Telemetry):
        self.config = config
        self.telemetry = telemetry
        self.ingestor = TraceIngestor(db, telemetry)

    def handlers(self) -> dict[str, Callable[..., Response]]:
        return {"otlp_traces": self.on_traces}

    def on_traces(self, request: Request, **_: Any) -> Response:
        mimetype = request.mimetype if request.mimetype in (otlp.PROTOBUF, otlp.JSON) else otlp.PROTOBUF
        try:
            body = self._body(request)
            export = otlp.parse_body(body, request.mimetype, request.headers.get("Content-Encoding", ""),
                                     self.config.max_decoded_bytes)
            result = self.ingestor.export(export, "http")
        except otlp.BadRequest as exc:
            return self._failure(mimetype, 400, "bad_request", otlp.CODE_INVALID_ARGUMENT, str(exc))
        except otlp.TooLarge as exc:
            return self._failure(mimetype, 413, "too_large", otlp.CODE_RESOURCE_EXHAUSTED, str(exc))
        except otlp.UnsupportedMediaType as exc:
            return self._failure(mimetype, 415, "unsupported_media_type", otlp.CODE_INVALID_ARGUMENT, str(exc))
        except InvalidData as exc:
            return self._failure(mimetype, 400, "bad_request", otlp.CODE_INVALID_ARGUMENT,
                                 f"the database rejected the spans: {exc}")
        except DatabaseUnavailable as exc:
            response = self._failure(mimetype, 503, "db_unavailable", otlp.CODE_UNAVAILABLE, str(exc))
            response.headers["Retry-After"] = "1"
            return response
        body = otlp.encode_response(mimetype, 0, result.warning)
        return Response(body, status=200, mimetype=mimetype)

    def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise otlp.TooLarge(f"request body of {request.content_length} bytes is over the limit of {limit}")
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            raise otlp.TooLarge(f"request body is over the limit of {limit} bytes")
        return body

    def _failure(self, mimetype: str, status: int, kind: str, code: int, message: str) -> Response:
        self.telemetry.error(kind)
        log.info("POST /v1/traces: %d %s", status, message)
        return Response(otlp.encode_status(mimetype, code, message), status=status, mimetype=mimetype)
