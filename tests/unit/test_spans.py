"""OTLP → put_spans columns: attribute encoding, id checks, and its Jaeger rendering."""

from __future__ import annotations

import json
import math

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from pyconnector.jaeger import key_value
from pyconnector.otlp.wire import BadRequest
from pyconnector.otlp.spans import NO_SERVICE_NAME, any_value, to_batch


def value(**kwargs) -> AnyValue:
    v = AnyValue()
    for key, val in kwargs.items():
        if key == "array":
            for item in val:
                v.array_value.values.add().CopyFrom(item)
        elif key == "kvlist":
            for k, item in val.items():
                kv = v.kvlist_value.values.add()
                kv.key = k
                kv.value.CopyFrom(item)
        else:
            setattr(v, key, val)
    return v


@pytest.mark.parametrize("otlp, stored, jaeger", [
    (value(string_value="a"), "a", ("string", "a")),
    (value(bool_value=True), True, ("bool", True)),
    (value(int_value=-(2**63)), -(2**63), ("int64", -(2**63))),
    (value(double_value=3.0), 3.0, ("float64", 3.0)),
    (value(double_value=1e16), {"double": "1e+16"}, ("float64", 1e16)),
    (value(double_value=math.inf), {"double": "Infinity"}, ("string", "Infinity")),
    (value(double_value=math.nan), {"double": "NaN"}, ("string", "NaN")),
    (value(bytes_value=b"\x00\x01"), {"bytes": "AAE="}, ("binary", "AAE=")),
    (value(array=[value(int_value=1), value(string_value="x")]), [1, "x"], ("string", '[1,"x"]')),
    (value(kvlist={"k": value(bytes_value=b"\xff")}), {"kvlist": {"k": {"bytes": "/w=="}}}, ("string", '{"k":"/w=="}')),
    (AnyValue(), None, ("string", "")),
])
def test_attribute_values(otlp, stored, jaeger):
    encoded = any_value(otlp)
    assert encoded == stored
    # what jsonb gives back is what json.loads gives back for these texts
    round_tripped = json.loads(json.dumps(encoded))
    kv = key_value("k", round_tripped)
    assert (kv["type"], kv["value"]) == jaeger


def request_with(**span_fields) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    for key, val in span_fields.items():
        setattr(span, key, val)
    return request


def test_resource_without_service_name():
    batch = to_batch(request_with())
    assert batch.resources[0] == [NO_SERVICE_NAME]
    assert batch.span_ids == [0x0202020202020202]
    assert batch.parent_span_ids == [0]


def test_span_ids_are_signed_big_endian():
    batch = to_batch(request_with(span_id=b"\xff" * 8, parent_span_id=b"\x80" + b"\x00" * 7))
    assert batch.span_ids == [-1]
    assert batch.parent_span_ids == [-(2**63)]


@pytest.mark.parametrize("fields, message", [
    ({"trace_id": b"\x01" * 17}, "trace_id must be 16 bytes, got 17"),
    ({"span_id": b""}, "span_id must be 8 bytes, got 0"),
    ({"parent_span_id": b"\x01"}, "parent_span_id must be empty or 8 bytes, got 1"),
    ({"start_time_unix_nano": 2**64 - 1}, "beyond the year 2262"),
])
def test_invalid_spans(fields, message):
    with pytest.raises(BadRequest, match=message):
        to_batch(request_with(**fields))
