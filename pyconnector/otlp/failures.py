"""What an OTLP export failure means to the client, for both transports.

One table maps the exceptions of trace ingest to the HTTP status (OTLP/HTTP), the google.rpc
code (the Status body of OTLP/HTTP, the status of OTLP/gRPC) and the telemetry kind. Clients
never retry INVALID_ARGUMENT / 400 and 413, and retry UNAVAILABLE / 503.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..body import BodyTimeout, BodyTooLarge
from ..db import DatabaseUnavailable, InvalidData
from . import wire

# google.rpc.Code values
CODE_INVALID_ARGUMENT = 3
CODE_DEADLINE_EXCEEDED = 4
CODE_RESOURCE_EXHAUSTED = 8
CODE_INTERNAL = 13
CODE_UNAVAILABLE = 14


@dataclass(frozen=True)
class Failure:
    http_status: int
    rpc_code: int
    kind: str  # telemetry's error kind
    message: str

    @property
    def retry(self) -> bool:
        return self.rpc_code == CODE_UNAVAILABLE


def failure_of(exc: BaseException) -> Failure | None:
    """The failure ``exc`` stands for; None for anything unexpected (a bug: internal error)."""
    if isinstance(exc, wire.BadRequest):
        return Failure(400, CODE_INVALID_ARGUMENT, "bad_request", str(exc))
    if isinstance(exc, BodyTimeout):
        return Failure(408, CODE_DEADLINE_EXCEEDED, "timeout", str(exc))
    if isinstance(exc, (wire.TooLarge, BodyTooLarge)):
        return Failure(413, CODE_RESOURCE_EXHAUSTED, "too_large", str(exc))
    if isinstance(exc, wire.UnsupportedMediaType):
        return Failure(415, CODE_INVALID_ARGUMENT, "unsupported_media_type", str(exc))
    if isinstance(exc, InvalidData):
        return Failure(400, CODE_INVALID_ARGUMENT, "bad_request", f"the database rejected the spans: {exc}")
    if isinstance(exc, DatabaseUnavailable):
        return Failure(503, CODE_UNAVAILABLE, "db_unavailable", str(exc))
    return None
