"""The Prometheus protocol's errors and its error hook: what a handler raises, answered in the
wire format of the endpoint that raised it.

- remote_write and remote_read: a one-line text body (Prometheus logs its first line), the
  status telling Prometheus whether to retry (4xx: never);
- the HTTP API: Prometheus's JSON error envelope for what the database could not answer
  (api_response.py; the extension answers every other error), with the API's headers.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from ..body import BodyTimeout, BodyTooLarge
from ..db import InvalidData, QueryTimeout
from ..telemetry import Telemetry
from .api_response import ApiError, error_response as api_error_response, finish

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """The request is malformed; answered 400 (Prometheus drops it, never retries)."""


class TooLarge(Exception):
    """The request exceeds a size limit; answered 413."""


class UnsupportedMediaType(Exception):
    """A body that is not a snappy-compressed protobuf message of the expected type; 415."""


def text_response(status: int, message: str) -> Response:
    # Prometheus logs only the first line of an error body
    return Response(message.replace("\n", " ") + "\n", status=status, mimetype="text/plain")


def _status_and_kind(exc: Exception) -> tuple[int, str, str] | None:
    """(HTTP status, telemetry kind, message) of a remote_write/remote_read error."""
    if isinstance(exc, BadRequest):
        return 400, "bad_request", str(exc)
    if isinstance(exc, (TooLarge, BodyTooLarge)):
        return 413, "too_large", str(exc)
    if isinstance(exc, BodyTimeout):
        return 408, "timeout", str(exc)
    if isinstance(exc, UnsupportedMediaType):
        return 415, "unsupported_media_type", str(exc)
    if isinstance(exc, InvalidData):
        return 400, "bad_request", f"the database rejected the data: {exc}"
    if isinstance(exc, QueryTimeout):
        return 503, "timeout", str(exc)
    return None


def error_response(request: Request, exc: Exception, telemetry: Telemetry, cors_origins: str) -> Response | None:
    """The response for what a Prometheus handler raised; None: not a Prometheus error, the
    application's hook answers it (database unavailable: 503, anything else: 500)."""
    if isinstance(exc, ApiError):
        return finish(request, api_error_response(exc), cors_origins)
    known = _status_and_kind(exc)
    if known is None:
        return None
    status, kind, message = known
    telemetry.error(kind)
    log.info("%s %s: %d %s", request.method, request.path, status, message)
    response = text_response(status, message)
    if status == 408:  # the rest of the body may still come: not a connection to read again
        response.headers["Connection"] = "close"
    return response
