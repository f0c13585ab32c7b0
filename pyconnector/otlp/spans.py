"""From an OTLP ExportTraceServiceRequest to the column arrays of ps_trace.put_spans.

Everything is validated before anything is written: a span with a wrong-length or
all-zero id rejects the whole request (BadRequest → 400), so nothing partial is stored.

Attribute values become JSON (docs/traces.md, "Attribute encoding"):
string, bool, int → JSON string, bool, integer; double → JSON number with a fraction
(jsonb keeps "3.0" apart from 3); array → JSON array; the rest as tagged objects:
kvlist → {"kvlist": {...}}, bytes → {"bytes": "<base64>"}, non-finite or huge doubles →
{"double": "NaN"}; an empty value → null.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..pgbinary import Int8Array, JsonbArray, TextArray, TimestamptzArray, UuidArray
from .wire import BadRequest

NO_SERVICE_NAME = "OTLPResourceNoServiceName"  # what Jaeger shows for a resource without attributes
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def any_value(value: Any) -> Any:
    """The JSON form of an OTLP AnyValue."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        d = value.double_value
        if math.isnan(d):
            return {"double": "NaN"}
        if math.isinf(d):
            return {"double": "Infinity" if d > 0 else "-Infinity"}
        text = repr(d)
        if "e+" in text:  # jsonb would print 1e+16 as 10000000000000000 and it would read back as an int
            return {"double": text}
        return d
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {"kvlist": {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}}
    if kind == "bytes_value":
        return {"bytes": base64.b64encode(value.bytes_value).decode("ascii")}
    return None


def attributes_json(attributes: Any) -> str:
    return _dumps({kv.key: any_value(kv.value) for kv in attributes})


def attributes_dict(attributes: Any) -> dict:
    return {kv.key: any_value(kv.value) for kv in attributes}


def _check_id(raw: bytes, size: int, what: str, where: str) -> None:
    if len(raw) != size:
        raise BadRequest(f"{where}: {what} must be {size} bytes, got {len(raw)}")
    if raw == (_ZERO_TRACE if size == 16 else _ZERO_SPAN):
        raise BadRequest(f"{where}: {what} is all zeros (invalid)")


def _span_id(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


@dataclass
class SpanBatch:
    """Parallel lists, one per put_spans argument group."""

    resources: tuple[list, list, list, list] = field(default_factory=lambda: ([], [], [], []))
    scopes: tuple[list, list, list, list, list] = field(default_factory=lambda: ([], [], [], [], []))
    span_resource: list = field(default_factory=list)
    span_scope: list = field(default_factory=list)
    trace_ids: list = field(default_factory=list)  # 16-byte strings
    span_ids: list = field(default_factory=list)
    parent_span_ids: list = field(default_factory=list)  # 0 = root
    trace_states: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    names: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    start_ns: list = field(default_factory=list)
    end_ns: list = field(default_factory=list)
    attributes: list = field(default_factory=list)
    dropped_attributes: list = field(default_factory=list)
    dropped_events: list = field(default_factory=list)
    dropped_links: list = field(default_factory=list)
    status_codes: list = field(default_factory=list)
    status_messages: list = field(default_factory=list)
    event_span: list = field(default_factory=list)
    event_nbr: list = field(default_factory=list)
    event_ns: list = field(default_factory=list)
    event_names: list = field(default_factory=list)
    event_attributes: list = field(default_factory=list)
    event_dropped: list = field(default_factory=list)
    link_span: list = field(default_factory=list)
    link_nbr: list = field(default_factory=list)
    link_trace_ids: list = field(default_factory=list)
    link_span_ids: list = field(default_factory=list)
    link_trace_states: list = field(default_factory=list)
    link_flags: list = field(default_factory=list)
    link_attributes: list = field(default_factory=list)
    link_dropped: list = field(default_factory=list)
    swapped_times: int = 0  # spans whose end was before their start (stored swapped)

    def __len__(self) -> int:
        return len(self.span_ids)

    def sql_args(self) -> tuple:
        """The 43 arguments of ps_trace.put_spans, as binary arrays where it pays."""
        start_ns = np.array(self.start_ns, dtype=np.uint64)
        end_ns = np.array(self.end_ns, dtype=np.uint64)
        event_ns = np.array(self.event_ns, dtype=np.uint64)
        r, c = self.resources, self.scopes
        return (
            TextArray.of(r[0]), JsonbArray.of(r[1]), Int8Array.of(r[2]), TextArray.of(r[3]),
            TextArray.of(c[0]), TextArray.of(c[1]), JsonbArray.of(c[2]), Int8Array.of(c[3]), TextArray.of(c[4]),
            Int8Array.of(self.span_resource),
            Int8Array.of(self.span_scope),
            UuidArray.of(self.trace_ids),
            Int8Array.of(self.span_ids),
            Int8Array.of(self.parent_span_ids),
            TextArray.of(self.trace_states),
            Int8Array.of(self.flags),
            TextArray.of(self.names),
            Int8Array.of(self.kinds),
            TimestamptzArray.from_unix_us((start_ns // 1000).astype(np.int64)),
            Int8Array.of((start_ns % 1000).astype(np.int64)),
            TimestamptzArray.from_unix_us((end_ns // 1000).astype(np.int64)),
            Int8Array.of((end_ns % 1000).astype(np.int64)),
            JsonbArray.of(self.attributes),
            Int8Array.of(self.dropped_attributes),
            Int8Array.of(self.dropped_events),
            Int8Array.of(self.dropped_links),
            Int8Array.of(self.status_codes),
            TextArray.of(self.status_messages),
            Int8Array.of(self.event_span),
            Int8Array.of(self.event_nbr),
            TimestamptzArray.from_unix_us((event_ns // 1000).astype(np.int64)),
            Int8Array.of((event_ns % 1000).astype(np.int64)),
            TextArray.of(self.event_names),
            JsonbArray.of(self.event_attributes),
            Int8Array.of(self.event_dropped),
            Int8Array.of(self.link_span),
            Int8Array.of(self.link_nbr),
            UuidArray.of(self.link_trace_ids),
            Int8Array.of(self.link_span_ids),
            TextArray.of(self.link_trace_states),
            Int8Array.of(self.link_flags),
            JsonbArray.of(self.link_attributes),
            Int8Array.of(self.link_dropped),
        )


# SQL types of the put_spans arguments, in order
PUT_SPANS_TYPES = (
    "text[]", "jsonb[]", "bigint[]", "text[]",
    "text[]", "text[]", "jsonb[]", "bigint[]", "text[]",
    "bigint[]", "bigint[]",
    "uuid[]", "bigint[]", "bigint[]", "text[]", "bigint[]", "text[]", "bigint[]", "timestamptz[]", "bigint[]",
    "timestamptz[]", "bigint[]", "jsonb[]", "bigint[]", "bigint[]", "bigint[]", "bigint[]", "text[]",
    "bigint[]", "bigint[]", "timestamptz[]", "bigint[]", "text[]", "jsonb[]", "bigint[]",
    "bigint[]", "bigint[]", "uuid[]", "bigint[]", "text[]", "bigint[]", "jsonb[]", "bigint[]",
)

# Times beyond this (year 2262) do not fit PostgreSQL's int64 microseconds from 2000.
MAX_TIME_NS = 9_223_372_036_854_775_807 - 946_684_800_000_000_000


def to_batch(request: ExportTraceServiceRequest) -> SpanBatch:
    """Column arrays for every span of the request; raises BadRequest on any invalid span."""
    b = SpanBatch()
    for i, rs in enumerate(request.resource_spans):
        resource_attrs = attributes_dict(rs.resource.attributes)
        service = resource_attrs.get("service.name")
        if not isinstance(service, str):
            service = NO_SERVICE_NAME if service is None else _dumps(service)
        b.resources[0].append(service)
        b.resources[1].append(_dumps(resource_attrs))
        b.resources[2].append(rs.resource.dropped_attributes_count)
        b.resources[3].append(rs.schema_url)
        resource_index = len(b.resources[0])
        for j, ss in enumerate(rs.scope_spans):
            scope = ss.scope
            b.scopes[0].append(scope.name)
            b.scopes[1].append(scope.version)
            b.scopes[2].append(attributes_json(scope.attributes))
            b.scopes[3].append(scope.dropped_attributes_count)
            b.scopes[4].append(ss.schema_url)
            scope_index = len(b.scopes[0])
            for k, span in enumerate(ss.spans):
                where = f"resource_spans[{i}].scope_spans[{j}].spans[{k}]"
                _add_span(b, span, resource_index, scope_index, where)
    return b


def _add_span(b: SpanBatch, span: Any, resource_index: int, scope_index: int, where: str) -> None:
    trace_id = span.trace_id
    _check_id(trace_id, 16, "trace_id", where)
    _check_id(span.span_id, 8, "span_id", where)
    parent = span.parent_span_id
    if parent and len(parent) != 8:
        raise BadRequest(f"{where}: parent_span_id must be empty or 8 bytes, got {len(parent)}")
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start > MAX_TIME_NS or end > MAX_TIME_NS:
        raise BadRequest(f"{where}: start or end time beyond the year 2262")
    if end < start:
        start, end = end, start
        b.swapped_times += 1
    b.span_resource.append(resource_index)
    b.span_scope.append(scope_index)
    b.trace_ids.append(trace_id)
    b.span_ids.append(_span_id(span.span_id))
    b.parent_span_ids.append(_span_id(parent) if parent else 0)
    b.trace_states.append(span.trace_state)
    b.flags.append(span.flags)
    b.names.append(span.name)
    b.kinds.append(span.kind)
    b.start_ns.append(start)
    b.end_ns.append(end)
    b.attributes.append(attributes_json(span.attributes))
    b.dropped_attributes.append(span.dropped_attributes_count)
    b.dropped_events.append(span.dropped_events_count)
    b.dropped_links.append(span.dropped_links_count)
    b.status_codes.append(span.status.code)
    b.status_messages.append(span.status.message)
    ordinal = len(b.span_ids)
    for n, event in enumerate(span.events):
        if event.time_unix_nano > MAX_TIME_NS:
            raise BadRequest(f"{where}.events[{n}]: time beyond the year 2262")
        b.event_span.append(ordinal)
        b.event_nbr.append(n)
        b.event_ns.append(event.time_unix_nano)
        b.event_names.append(event.name)
        b.event_attributes.append(attributes_json(event.attributes))
        b.event_dropped.append(event.dropped_attributes_count)
    for n, link in enumerate(span.links):
        _check_id(link.trace_id, 16, "trace_id", f"{where}.links[{n}]")
        _check_id(link.span_id, 8, "span_id", f"{where}.links[{n}]")
        b.link_span.append(ordinal)
        b.link_nbr.append(n)
        b.link_trace_ids.append(link.trace_id)
        b.link_span_ids.append(_span_id(link.span_id))
        b.link_trace_states.append(link.trace_state)
        b.link_flags.append(link.flags)
        b.link_attributes.append(attributes_json(link.attributes))
        b.link_dropped.append(link.dropped_attributes_count)
