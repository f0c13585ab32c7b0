"""The route table: every endpoint the connector serves over HTTP, in one place.

Each rule's endpoint is ``<protocol>.<name>``: the request is answered by ``on_<name>`` of that
protocol's handlers (``prometheus.Prometheus``, ``otlp.Otlp``, ``jaeger.Jaeger``, ``ui.Ui``, or the
application itself for ``connector``), and whatever the handler raises by that protocol's
``error_response`` hook (app.py). tests/unit/test_connector_layout.py checks that every
rule's handler exists.
"""

from __future__ import annotations

from werkzeug.routing import Map, Rule

# the Prometheus HTTP API's methods, as Prometheus 2.42 registers them (OPTIONS: CORS preflight)
API_GET_POST = ["GET", "POST", "OPTIONS"]
API_GET = ["GET", "OPTIONS"]

ROUTES = Map([
    # the connector itself (app.py)
    Rule("/healthz", endpoint="connector.healthz", methods=["GET", "HEAD"]),
    Rule("/metrics", endpoint="connector.metrics", methods=["GET"]),
    # Prometheus remote_write and remote_read (prometheus/write_endpoint.py, read_endpoint.py)
    Rule("/write", endpoint="prometheus.write", methods=["POST"]),
    Rule("/api/v1/write", endpoint="prometheus.write", methods=["POST"]),
    Rule("/read", endpoint="prometheus.read", methods=["GET", "POST"]),
    Rule("/api/v1/read", endpoint="prometheus.read", methods=["POST"]),
    # the Prometheus HTTP API (prometheus/query_api.py)
    Rule("/api/v1/query", endpoint="prometheus.query", methods=API_GET_POST),
    Rule("/api/v1/query_range", endpoint="prometheus.query_range", methods=API_GET_POST),
    Rule("/api/v1/query_exemplars", endpoint="prometheus.query_exemplars", methods=API_GET_POST),
    Rule("/api/v1/format_query", endpoint="prometheus.format_query", methods=API_GET_POST),
    Rule("/api/v1/series", endpoint="prometheus.series", methods=API_GET_POST),
    Rule("/api/v1/labels", endpoint="prometheus.labels", methods=API_GET_POST),
    Rule("/api/v1/label/<name>/values", endpoint="prometheus.label_values", methods=API_GET),
    Rule("/api/v1/metadata", endpoint="prometheus.metadata", methods=API_GET),
    Rule("/api/v1/status/buildinfo", endpoint="prometheus.buildinfo", methods=API_GET),
    Rule("/api/v1/status/runtimeinfo", endpoint="prometheus.runtimeinfo", methods=API_GET),
    Rule("/api/v1/rules", endpoint="prometheus.rules", methods=API_GET),
    Rule("/api/v1/alerts", endpoint="prometheus.alerts", methods=API_GET),
    # OTLP/HTTP traces (otlp/handlers.py; OTLP/gRPC has a port of its own: otlp/grpc_server.py)
    Rule("/v1/traces", endpoint="otlp.traces", methods=["POST"]),
    # the Jaeger query API (jaeger/handlers.py)
    Rule("/api/services", endpoint="jaeger.services", methods=["GET"]),
    Rule("/api/services/<path:service>/operations", endpoint="jaeger.service_operations", methods=["GET"]),
    Rule("/api/operations", endpoint="jaeger.operations", methods=["GET"]),
    Rule("/api/traces", endpoint="jaeger.traces", methods=["GET"]),
    Rule("/api/traces/<trace_id>", endpoint="jaeger.trace", methods=["GET"]),
    Rule("/api/dependencies", endpoint="jaeger.dependencies", methods=["GET"]),
    Rule("/api/archive/<trace_id>", endpoint="jaeger.archive", methods=["POST"]),
    # the web UI: its pages, their files, the status page's data (ui/handlers.py, docs/web-ui.md)
    Rule("/", endpoint="ui.graph", methods=["GET", "HEAD"]),
    Rule("/graph", endpoint="ui.graph", methods=["GET", "HEAD"]),
    Rule("/query", endpoint="ui.graph", methods=["GET", "HEAD"]),  # Prometheus 3's name of the page
    Rule("/traces", endpoint="ui.traces", methods=["GET", "HEAD"]),
    Rule("/status", endpoint="ui.status", methods=["GET", "HEAD"]),
    Rule("/ui/static/<path:file>", endpoint="ui.static", methods=["GET", "HEAD"]),
    Rule("/ui/api/status", endpoint="ui.status_data", methods=["GET"]),
    Rule("/ui/api/metric-storage", endpoint="ui.metric_storage", methods=["GET"]),
])

# The handler label of the request duration histogram: the endpoint's name ("query",
# "query_range", "read", ...), except these; Jaeger's endpoints share one label, and so do the web UI's.
DURATION_LABEL_OF_ENDPOINT = {"otlp.traces": "otlp_traces"}
DURATION_LABEL_OF_PROTOCOL = {"jaeger": "jaeger", "ui": "ui"}
UNROUTED = "other"  # requests that matched no rule


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """("prometheus", "query") of "prometheus.query"."""
    protocol, _, name = endpoint.partition(".")
    return protocol, name


def duration_label(endpoint: str) -> str:
    """The histogram's handler label of an endpoint (UNROUTED for "other")."""
    protocol, name = split_endpoint(endpoint)
    if not name:
        return UNROUTED
    return DURATION_LABEL_OF_ENDPOINT.get(endpoint) or DURATION_LABEL_OF_PROTOCOL.get(protocol) or name


def duration_labels() -> tuple[str, ...]:
    """Every handler label the route table can produce, and UNROUTED: the histogram declares
    them all up front (telemetry's fixed layout)."""
    labels = {duration_label(rule.endpoint) for rule in ROUTES.iter_rules()}
    return tuple(sorted(labels - {UNROUTED})) + (UNROUTED,)
