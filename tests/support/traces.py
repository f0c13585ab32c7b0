"""Hand-made OTLP requests for trace tests: spans as small dicts, grouped by service."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PB_HEADERS = {"Content-Type": "application/x-protobuf"}
BASE_NS = 1_700_000_000_000_000_000


@dataclass
class S:
    trace: int
    span: int
    parent: int | None
    name: str
    service: str
    start_ms: int = 0  # after BASE_NS
    duration_ms: int = 10
    kind: int = 1
    attributes: dict = field(default_factory=dict)
    status: int = 0
    events: list = field(default_factory=list)  # (name, attributes)
    links: list = field(default_factory=list)  # (trace, span)


def request_of(spans: list[S], base_ns: int = BASE_NS) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    by_service: dict[str, list[S]] = {}
    for s in spans:
        by_service.setdefault(s.service, []).append(s)
    for service, members in by_service.items():
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", service
        ss = rs.scope_spans.add()
        ss.scope.name = "test"
        for s in members:
            span = ss.spans.add()
            span.trace_id = s.trace.to_bytes(16, "big")
            span.span_id = s.span.to_bytes(8, "big")
            if s.parent is not None:
                span.parent_span_id = s.parent.to_bytes(8, "big")
            span.name, span.kind = s.name, s.kind
            span.start_time_unix_nano = base_ns + s.start_ms * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + s.duration_ms * 1_000_000
            span.status.code = s.status
            for key, value in s.attributes.items():
                a = span.attributes.add()
                a.key = key
                if isinstance(value, bool):
                    a.value.bool_value = value
                elif isinstance(value, int):
                    a.value.int_value = value
                else:
                    a.value.string_value = str(value)
            for name, attrs in s.events:
                e = span.events.add()
                e.name, e.time_unix_nano = name, span.start_time_unix_nano
                for key, value in attrs.items():
                    a = e.attributes.add()
                    a.key, a.value.string_value = key, value
            for trace, span_id in s.links:
                link = span.links.add()
                link.trace_id, link.span_id = trace.to_bytes(16, "big"), span_id.to_bytes(8, "big")
    return request


def export(client, spans: list[S], base_ns: int = BASE_NS) -> None:
    response = client.post("/v1/traces", data=request_of(spans, base_ns).SerializeToString(), headers=PB_HEADERS)
    assert response.status_code == 200, response.data


# A shop request: frontend → backend → db, plus a sibling call; trace 0xA
SHOP = [
    S(0xA, 1, None, "GET /checkout", "frontend", 0, 100, kind=2, attributes={"http.status_code": 200}),
    S(0xA, 2, 1, "POST /price", "frontend", 5, 50, kind=3),
    S(0xA, 3, 2, "price", "backend", 10, 40, kind=2, attributes={"customer": "vip"}),
    S(0xA, 4, 3, "SELECT rates", "backend", 15, 20, kind=3, status=2, events=[("exception", {"exception.type": "X"})]),
    S(0xA, 5, 1, "render", "frontend", 60, 30),
]
