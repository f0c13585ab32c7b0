"""The route table: every endpoint the connector serves over HTTP, in one place.

Each rule's endpoint is ``<protocol>.<name>``: the request is answered by ``on_<name>`` of that
protocol's handlers (``prometheus.Prometheus``, ``otlp.Otlp``, ``jaeger.Jaeger``, ``ui.Ui``, or the
application itself for ``connector``), and whatever the handler raises by that protocol's
``error_response`` hook (app.py). tests/unit/test_connector_layout.py checks that every
rule's handler exists.

Routes whose cost the caller chooses (queries, series and label lookups, remote_read, the
Jaeger API) are ``heavy``: a worker runs a bounded number of them at a time (admission.py), so
ingest and /healthz always find a thread.

Each rule also declares the role a caller needs (auth.py: ``public``, ``read``, ``write`` or
``admin``); app.py checks it before any handler runs. A rule that declares none needs ``admin``
(closed, not open), and tests/unit/test_connector_layout.py fails on it.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Map, Rule

from .auth import ADMIN, PUBLIC, READ, ROUTE_ROLES, WRITE

# the Prometheus HTTP API's methods, as Prometheus 2.42 registers them (OPTIONS: CORS preflight)
API_GET_POST = ["GET", "POST", "OPTIONS"]
API_GET = ["GET", "OPTIONS"]



class Route(Rule):
    """A rule with the role its callers need (auth.ROUTE_ROLES), and whether its cost is the
    caller's choice (``heavy``: a query slot first, admission.py)."""

    def __init__(self, string: str, *, role: str, heavy: bool = False, **kwargs: Any):
        if role not in ROUTE_ROLES:
            raise ValueError(f"route {string}: role {role!r} is not one of {ROUTE_ROLES}")
        super().__init__(string, **kwargs)
        self.role = role
        self.heavy = heavy

    def get_empty_kwargs(self) -> dict[str, Any]:
        return {**super().get_empty_kwargs(), "role": self.role, "heavy": self.heavy}


def role_of(rule: Rule) -> str:
    """The role a rule needs: its declared one, admin for a rule that declares none."""
    return getattr(rule, "role", ADMIN)


def is_heavy(rule: Rule) -> bool:
    """Whether a rule's requests take a query slot (admission.py) before their handler runs."""
    return getattr(rule, "heavy", False)


ROUTES = Map([
    # the connector itself (app.py)
    Route("/healthz", endpoint="connector.healthz", methods=["GET", "HEAD"], role=PUBLIC),
    Route("/metrics", endpoint="connector.metrics", methods=["GET"], role=READ),
    # Prometheus remote_write and remote_read (prometheus/write_endpoint.py, read_endpoint.py)
    Route("/write", endpoint="prometheus.write", methods=["POST"], role=WRITE),
    Route("/api/v1/write", endpoint="prometheus.write", methods=["POST"], role=WRITE),
    Route("/read", endpoint="prometheus.read", methods=["GET", "POST"], role=READ, heavy=True),
    Route("/api/v1/read", endpoint="prometheus.read", methods=["POST"], role=READ, heavy=True),
    # the Prometheus HTTP API (prometheus/query_api.py)
    Route("/api/v1/query", endpoint="prometheus.query", methods=API_GET_POST, role=READ, heavy=True),
    Route("/api/v1/query_range", endpoint="prometheus.query_range", methods=API_GET_POST, role=READ, heavy=True),
    Route("/api/v1/query_exemplars", endpoint="prometheus.query_exemplars", methods=API_GET_POST, role=READ, heavy=True),
    Route("/api/v1/format_query", endpoint="prometheus.format_query", methods=API_GET_POST, role=READ),
    Route("/api/v1/series", endpoint="prometheus.series", methods=API_GET_POST, role=READ, heavy=True),
    Route("/api/v1/labels", endpoint="prometheus.labels", methods=API_GET_POST, role=READ, heavy=True),
    Route("/api/v1/label/<name>/values", endpoint="prometheus.label_values", methods=API_GET, role=READ, heavy=True),
    Route("/api/v1/metadata", endpoint="prometheus.metadata", methods=API_GET, role=READ, heavy=True),
    Route("/api/v1/status/buildinfo", endpoint="prometheus.buildinfo", methods=API_GET, role=READ),
    Route("/api/v1/status/runtimeinfo", endpoint="prometheus.runtimeinfo", methods=API_GET, role=READ),
    Route("/api/v1/rules", endpoint="prometheus.rules", methods=API_GET, role=READ),
    Route("/api/v1/alerts", endpoint="prometheus.alerts", methods=API_GET, role=READ),
    # the admin API (prometheus/admin_api.py; also needs --web-enable-admin-api)
    Route("/api/v1/admin/tsdb/delete_series", endpoint="prometheus.delete_series",
          methods=["POST", "PUT", "OPTIONS"], role=ADMIN),
    # recording and alerting rules: read the rule files again (rules/handlers.py); it changes
    # what the connector evaluates, so admin as Prometheus's lifecycle API
    Route("/-/reload", endpoint="rules.reload", methods=["POST", "PUT"], role=ADMIN),
    # OTLP/HTTP traces (otlp/handlers.py; OTLP/gRPC has a port of its own: otlp/grpc_server.py)
    Route("/v1/traces", endpoint="otlp.traces", methods=["POST"], role=WRITE),
    # the Jaeger query API (jaeger/handlers.py)
    Route("/api/services", endpoint="jaeger.services", methods=["GET"], role=READ, heavy=True),
    Route("/api/services/<path:service>/operations", endpoint="jaeger.service_operations", methods=["GET"], role=READ, heavy=True),
    Route("/api/operations", endpoint="jaeger.operations", methods=["GET"], role=READ, heavy=True),
    Route("/api/traces", endpoint="jaeger.traces", methods=["GET"], role=READ, heavy=True),
    Route("/api/traces/<trace_id>", endpoint="jaeger.trace", methods=["GET"], role=READ, heavy=True),
    Route("/api/dependencies", endpoint="jaeger.dependencies", methods=["GET"], role=READ, heavy=True),
    Route("/api/archive/<trace_id>", endpoint="jaeger.archive", methods=["POST"], role=READ, heavy=True),
    # the web UI: its pages, their files, the status page's data (ui/handlers.py, docs/web-ui.md);
    # read like the APIs they call (a browser sends basic-auth credentials with every request)
    Route("/", endpoint="ui.graph", methods=["GET", "HEAD"], role=READ),
    Route("/graph", endpoint="ui.graph", methods=["GET", "HEAD"], role=READ),
    Route("/query", endpoint="ui.graph", methods=["GET", "HEAD"], role=READ),  # Prometheus 3's name of the page
    Route("/traces", endpoint="ui.traces", methods=["GET", "HEAD"], role=READ),
    Route("/status", endpoint="ui.status", methods=["GET", "HEAD"], role=READ),
    Route("/ui/static/<path:file>", endpoint="ui.static", methods=["GET", "HEAD"], role=READ),
    Route("/ui/api/status", endpoint="ui.status_data", methods=["GET"], role=READ),
    Route("/ui/api/metric-storage", endpoint="ui.metric_storage", methods=["GET"], role=READ, heavy=True),
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
