"""The connector's WSGI application: route table, handlers, error mapping.

Handlers are named on_<endpoint>; request parsing lives in the protocol modules
(remote_write.py), database access in db.py, the work itself in the extension.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import config as config_module, remote_read, remote_write
from .query_api import QueryAPI
from .config import Config
from .db import Database, DatabaseUnavailable, InvalidData, QueryFailed, QueryTimeout
from .ingest import Ingestor
from .jaeger import JaegerApi
from .otlp_http import OtlpHttp
from .series_cache import SeriesCache
from .telemetry import Telemetry
from . import ui  # the web UI (pyconnector/ui): its routes and handlers are added below

log = logging.getLogger("pyconnector")

URLS = Map([
    Rule("/write", endpoint="write", methods=["POST"]),
    Rule("/api/v1/write", endpoint="write", methods=["POST"]),
    Rule("/healthz", endpoint="healthz", methods=["GET", "HEAD"]),
    Rule("/metrics", endpoint="metrics", methods=["GET"]),
    # OTLP/HTTP traces and the Jaeger query API (pyconnector/otlp_http.py, jaeger.py)
    Rule("/v1/traces", endpoint="otlp_traces", methods=["POST"]),
    Rule("/api/services", endpoint="jaeger_services", methods=["GET"]),
    Rule("/api/services/<path:service>/operations", endpoint="jaeger_service_operations", methods=["GET"]),
    Rule("/api/operations", endpoint="jaeger_operations", methods=["GET"]),
    Rule("/api/traces", endpoint="jaeger_traces", methods=["GET"]),
    Rule("/api/traces/<trace_id>", endpoint="jaeger_trace", methods=["GET"]),
    Rule("/api/dependencies", endpoint="jaeger_dependencies", methods=["GET"]),
    Rule("/api/archive/<trace_id>", endpoint="jaeger_archive", methods=["POST"]),
    Rule("/read", endpoint="read", methods=["GET", "POST"]),
    Rule("/api/v1/read", endpoint="read", methods=["POST"]),
    # the Prometheus HTTP API (query_api.py); methods as Prometheus 2.42 registers them (OPTIONS: CORS preflight)
    Rule("/api/v1/query", endpoint="query", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/query_range", endpoint="query_range", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/query_exemplars", endpoint="query_exemplars", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/format_query", endpoint="format_query", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/series", endpoint="series", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/labels", endpoint="labels", methods=["GET", "POST", "OPTIONS"]),
    Rule("/api/v1/label/<name>/values", endpoint="label_values", methods=["GET", "OPTIONS"]),
    Rule("/api/v1/metadata", endpoint="metadata", methods=["GET", "OPTIONS"]),
    Rule("/api/v1/status/buildinfo", endpoint="buildinfo", methods=["GET", "OPTIONS"]),
    Rule("/api/v1/status/runtimeinfo", endpoint="runtimeinfo", methods=["GET", "OPTIONS"]),
    Rule("/api/v1/rules", endpoint="rules", methods=["GET", "OPTIONS"]),
    Rule("/api/v1/alerts", endpoint="alerts", methods=["GET", "OPTIONS"]),
    # --- the web UI (pyconnector/ui): /, /graph, /traces, /status and their files ---
    *ui.RULES,
])

PROTOBUF = "application/x-protobuf"


class ClientError(Exception):
    """An error the client caused: HTTP status, telemetry kind, message."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind


def text_response(status: int, message: str) -> Response:
    # Prometheus logs only the first line of an error body
    return Response(message.replace("\n", " ") + "\n", status=status, mimetype="text/plain")


class Connector:
    def __init__(self, config: Config):
        self.config = config
        self.db = Database(config.db_uri, config.db_connect_timeout, statement_timeout_ms=config.query_timeout // 1_000_000)
        self.cache = SeriesCache(config.series_cache_size)
        self.ingestor = Ingestor(self.db, self.cache)
        self.telemetry = Telemetry(config.telemetry_dir or tempfile.mkdtemp(prefix="promscale-telemetry-"))
        self.handlers: dict[str, Callable[..., Response]] = {
            "write": self.on_write,
            "healthz": self.on_healthz,
            "metrics": self.on_metrics,
            "read": self.on_read,
        }
        self.handlers.update(OtlpHttp(config, self.db, self.telemetry).handlers())
        self.handlers.update(JaegerApi(self.db).handlers())
        self.query_api = QueryAPI(self.db, config.query_timeout)
        for endpoint in self.query_api.handlers():
            self.handlers[endpoint] = self.query_api.bind(endpoint)
        # --- the web UI (pyconnector/ui) ---
        from . import __version__
        self.handlers.update(ui.UiHandlers(self.db, __version__).handlers())

    # --- WSGI ---

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        request.max_content_length = self.config.max_body_bytes
        started = time.perf_counter()
        endpoint = "other"
        try:
            endpoint, args = URLS.bind_to_environ(environ).match()
            response = self.handlers[endpoint](request, **args)
        except ClientError as exc:
            self.telemetry.error(exc.kind)
            log.info("%s %s: %d %s", request.method, request.path, exc.status, exc)
            response = text_response(exc.status, str(exc))
        except MethodNotAllowed as exc:
            self.telemetry.error("method_not_allowed")
            response = exc.get_response(environ)
        except NotFound as exc:
            response = exc.get_response(environ)
        except HTTPException as exc:
            response = exc.get_response(environ)
        except DatabaseUnavailable as exc:
            self.telemetry.error("db_unavailable")
            log.warning("%s %s: 503 %s", request.method, request.path, exc)
            response = text_response(503, str(exc))
            response.headers["Retry-After"] = "1"
        except Exception:
            self.telemetry.error("internal")
            log.exception("%s %s failed", request.method, request.path)
            response = text_response(500, "internal error; see the connector log")
        handler = "jaeger" if endpoint.startswith("jaeger_") else endpoint
        self.telemetry.observe_duration(
            handler if handler in ("write", "healthz", "metrics", "otlp_traces", "jaeger") else "other",
            time.perf_counter() - started)
        return response(environ, start_response)

    # --- handlers ---

    def on_write(self, request: Request) -> Response:
        body = self._remote_write_body(request)
        try:
            decoded = remote_write.decode_request(remote_write.decompress(body, self.config.max_decoded_bytes))
            result = self.ingestor.ingest(decoded)
        except remote_write.BadRequest as exc:
            raise ClientError(400, "bad_request", str(exc)) from exc
        except remote_write.TooLarge as exc:
            raise ClientError(413, "too_large", str(exc)) from exc
        except InvalidData as exc:
            raise ClientError(400, "bad_request", f"the database rejected the data: {exc}") from exc
        t = self.telemetry
        t.inc("promscale_ingest_requests_total")
        t.inc("promscale_ingest_samples_total", result.samples)
        t.inc("promscale_ingest_series_total", result.series)
        t.inc("promscale_ingest_exemplars_total", result.exemplars)
        t.inc("promscale_ingest_metadata_total", result.metadata)
        t.inc("promscale_series_cache_hits_total", result.cache_hits)
        t.inc("promscale_series_cache_misses_total", result.cache_misses)
        if result.histograms_dropped:
            t.inc("promscale_ingest_histograms_dropped_total", result.histograms_dropped)
            log.warning("dropped %d native histogram samples: native histograms are not supported",
                        result.histograms_dropped)
        t.set("promscale_series_cache_entries", len(self.cache))
        return Response(status=204)

    def _remote_write_body(self, request: Request) -> bytes:
        mimetype = request.mimetype
        if mimetype and mimetype != PROTOBUF:
            raise ClientError(415, "unsupported_media_type",
                              f"unsupported Content-Type {request.content_type!r}: remote_write needs {PROTOBUF}")
        proto = request.mimetype_params.get("proto")
        if proto not in (None, "prometheus.WriteRequest"):
            raise ClientError(415, "unsupported_media_type",
                              f"unsupported remote_write message {proto!r}: only prometheus.WriteRequest (1.0)")
        encoding = request.headers.get("Content-Encoding", "snappy").strip().lower()
        if encoding != "snappy":
            raise ClientError(415, "unsupported_media_type",
                              f"unsupported Content-Encoding {encoding!r}: remote_write bodies are snappy")
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise ClientError(413, "too_large", f"request body of {request.content_length} bytes is over the limit of {limit}")
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            raise ClientError(413, "too_large", f"request body is over the limit of {limit} bytes")
        return body

    def on_read(self, request: Request) -> Response:
        body = self._remote_write_body(request)
        try:
            read = remote_read.parse_request(body, self.config.max_decoded_bytes)
            kind = remote_read.response_type(read)
            results = [self._read_query(query) for query in read.queries]
        except remote_read.BadReadRequest as exc:
            raise ClientError(400, "bad_request", str(exc)) from exc
        if kind == remote_read.pb.ReadRequest.SAMPLES:
            response = Response(remote_read.samples_response(results), content_type=remote_read.SAMPLES_CONTENT_TYPE)
            response.headers["Content-Encoding"] = "snappy"
            return response
        frames = [f for index, series in enumerate(results)
                  for f in remote_read.streamed_frames(index, series, self.config.read_max_bytes_in_frame)]
        return Response(frames, content_type=remote_read.STREAMED_CONTENT_TYPE)

    def _read_query(self, query: "remote_read.pb.Query") -> list[remote_read.SeriesData]:
        names, ops, values = remote_read.matchers_of(query)
        try:
            rows = self.db.read_samples(names, ops, values, query.start_timestamp_ms, query.end_timestamp_ms,
                                        self.config.query_timeout // 1_000_000)
        except (QueryFailed, QueryTimeout) as exc:
            raise remote_read.BadReadRequest(str(exc)) from exc
        series = sorted((remote_read.SeriesData(keys, vals, times, samples) for keys, vals, times, samples in rows),
                        key=lambda s: list(zip(s.keys, s.values)))
        limit = self.config.read_sample_limit
        if limit and sum(len(s.times_ms) for s in series) > limit:
            raise remote_read.BadReadRequest(f"exceeded sample limit ({limit})")
        return series

    def on_healthz(self, request: Request) -> Response:
        from . import COMPATIBLE_EXTENSION, __version__

        version = self.db.extension_version()
        body = {"connector_version": __version__, "extension_version": version}
        if version is None:
            body["status"] = "the promscale extension is not installed in this database"
            status = 503
        elif version != COMPATIBLE_EXTENSION and not version.startswith(COMPATIBLE_EXTENSION + "."):
            body["status"] = f"extension version {version} does not match this connector (needs {COMPATIBLE_EXTENSION}.x)"
            status = 503
        else:
            body["status"] = "ok"
            status = 200
        return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")

    def on_metrics(self, request: Request) -> Response:
        self.telemetry.set("promscale_series_cache_entries", len(self.cache))
        return Response(self.telemetry.render(), mimetype="text/plain", content_type="text/plain; version=0.0.4")


def create_app(config: Config | None = None) -> Connector:
    """The WSGI application for ``config``; without one, the PROMSCALE_* environment variables
    configure it (so ``gunicorn 'pyconnector:create_app()'`` works)."""
    return Connector(config or config_module.load([]))
