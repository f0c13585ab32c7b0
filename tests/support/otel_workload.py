"""A realistic multi-service trace made with the real OpenTelemetry SDK.

frontend (server span) → frontend client span → backend server span → db client span,
plus a worker service consuming a message with a link back to the request; events,
an error status, and attributes of every type the SDK accepts.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode


def provider(service: str, exporter: SpanExporter, memory: InMemorySpanExporter, **resource: object) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": service, **resource}), shutdown_on_exit=False)
    p.add_span_processor(SimpleSpanProcessor(memory))
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p


def run_workload(exporter: SpanExporter, tag: str = "w") -> list[ReadableSpan]:
    """Emit one request's spans across three services; returns what the SDK finished."""
    memory = InMemorySpanExporter()
    frontend = provider(f"frontend-{tag}", exporter, memory, **{"deployment.environment": "test", "host.cpu": 4})
    backend = provider(f"backend-{tag}", exporter, memory, **{"service.version": "1.2.3"})
    worker = provider(f"worker-{tag}", exporter, memory)
    ft = frontend.get_tracer("shop.frontend", "0.9.1")
    bt = backend.get_tracer("shop.backend", "2.0.0")
    wt = worker.get_tracer("shop.worker")

    with ft.start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes={
        "http.method": "GET", "http.status_code": 200, "http.route": "/checkout", "user.vip": True,
        "cart.total": 123.45, "cart.items": ["book", "pen"], "cart.counts": [1, 3], "cart.weights": [0.5, 1.25],
        "cart.flags": [True, False], "zero.float": 3.0,
    }) as root:
        root.add_event("cache miss", {"cache.key": "cart:42", "cache.size": 17})
        with ft.start_as_current_span("POST backend/price", kind=SpanKind.CLIENT,
                                      attributes={"peer.service": "backend"}):
            with bt.start_as_current_span("price cart", kind=SpanKind.SERVER) as priced:
                priced.add_event("rates loaded")
                with bt.start_as_current_span("SELECT rates", kind=SpanKind.CLIENT, attributes={
                        "db.system": "postgresql", "db.rows": 12}) as query:
                    query.set_status(Status(StatusCode.ERROR, "deadlock detected"))
                    query.add_event("exception", {"exception.type": "DeadlockDetected",
                                                  "exception.message": "deadlock detected"})
                priced.set_status(Status(StatusCode.OK))
        request_context = root.get_span_context()
    with wt.start_as_current_span("process order", kind=SpanKind.CONSUMER,
                                  links=[Link(request_context, {"link.reason": "order placed"})]) as consumer:
        with wt.start_as_current_span("send mail", kind=SpanKind.PRODUCER):
            pass
        with wt.start_as_current_span("internal step"):
            pass
        consumer.set_attribute("order.id", 987654321012)
    # SimpleSpanProcessor exported each span as it ended; no shutdown: it would close the shared exporter
    return list(memory.get_finished_spans())
