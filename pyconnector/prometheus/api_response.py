"""Prometheus HTTP API responses: the envelopes, the HTTP status of each error type
(web/api/v1/api.go respondError in 2.42), and what every answer of the API gets (CORS
headers, gzip)."""

from __future__ import annotations

import gzip
import json

from werkzeug.wrappers import Request, Response

STATUS_OF_ERROR_TYPE = {
    "bad_data": 400,
    "execution": 422,
    "timeout": 503,
    "canceled": 503,
    "internal": 500,
    "not_found": 404,
    "unavailable": 500,
}
JSON = "application/json"
GZIP_MIN_BYTES = 1024
CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
    "Vary": "Origin",
}


class ApiError(Exception):
    """An API error answered with Prometheus's error envelope."""

    def __init__(self, error_type: str, message: str, status: int | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.status = status or STATUS_OF_ERROR_TYPE.get(error_type, 500)


def json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def error_body(error_type: str, message: str) -> str:
    return '{"status":"error","errorType":' + json_string(error_type) + ',"error":' + json_string(message) + "}"


def error_response(exc: ApiError) -> Response:
    return Response(error_body(exc.error_type, str(exc)), status=exc.status, content_type=JSON)


def success_response(data_json: str) -> Response:
    return Response('{"status":"success","data":' + data_json + "}", status=200, content_type=JSON)


def forward(body: str | None) -> Response:
    """A response body made by the extension: 200 on success, the error type's status
    otherwise, 204 when the extension had nothing to say (None)."""
    if body is None:
        return Response(status=204)
    if body.startswith('{"status":"success"'):
        return Response(body, status=200, content_type=JSON)
    try:
        error_type = json.loads(body).get("errorType", "internal")
    except ValueError:
        error_type = "internal"
    return Response(body, status=STATUS_OF_ERROR_TYPE.get(error_type, 500), content_type=JSON)


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
