"""What every answer of the Prometheus HTTP API gets (CORS headers, gzip), and the error
envelopes of what the database cannot answer itself: it was unreachable, cancelled the
statement (timeout) or failed. Every other body and status, errors included, is the
extension's (prom_api.http_api: extension/promscale/httpapi/)."""

from __future__ import annotations

import gzip
import json

from werkzeug.wrappers import Request, Response

JSON = "application/json"
GZIP_MIN_BYTES = 1024
CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
    "Vary": "Origin",
}


class ApiError(Exception):
    """An answer in Prometheus's error envelope that the connector gives itself."""

    def __init__(self, error_type: str, message: str, status: int):
        super().__init__(message)
        self.error_type = error_type
        self.status = status


def error_response(exc: ApiError) -> Response:
    # json.dumps escapes as Go does but for the HTML-safe escapes Go adds
    quoted = [json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
              .replace("&", "\\u0026") for text in (exc.error_type, str(exc))]
    return Response('{"status":"error","errorType":' + quoted[0] + ',"error":' + quoted[1] + "}",
                    status=exc.status, content_type=JSON)


def answer(status: int, body: str | None) -> Response:
    """The extension's answer (status, body; None: no content) as an HTTP response."""
    if body is None:
        return Response(status=status)
    return Response(body, status=status, content_type=JSON)


def compressed(request: Request, response: Response) -> Response:
    """gzip the body when the client accepts it, as Prometheus's CompressionHandler does
    (Grafana and requests ask for it; a matrix shrinks about tenfold)."""
    if response.status_code == 204 or "gzip" not in request.headers.get("Accept-Encoding", ""):
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=1))  # level 1: the CPU is the scarce part
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def finish(request: Request, response: Response, cors_origins: str) -> Response:
    """What every answer of the HTTP API gets, errors included: CORS headers for a browser page
    of an allowed origin (``cors_origins``: comma-separated, or ``*``; Grafana's direct access),
    then gzip. Prometheus allows every origin by default; we allow none unless configured, so a
    page of any site cannot read the metrics through a user's browser."""
    origin = request.headers.get("Origin")
    if origin is not None and cors_origins:
        allowed = cors_origins.split(",")
        if "*" in allowed or origin in allowed:
            response.headers.update(CORS_HEADERS)
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
            if "*" not in allowed:
                response.vary.add("Origin")
    return compressed(request, response)
