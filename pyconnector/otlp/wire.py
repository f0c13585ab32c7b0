"""OTLP/HTTP transport for traces: bodies in, ExportTraceServiceRequest out, and back.

Pure functions (no I/O). Protobuf and JSON bodies, gzip or deflate, are decoded with
the size cap checked while inflating. JSON follows the OTLP JSON mapping: ids are hex
(not base64), enums integers, 64-bit integers strings or numbers, unknown fields ignored.
Errors are ``BadRequest`` (400), ``TooLarge`` (413) or ``UnsupportedMediaType`` (415).
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ..protowire import uvarint

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class BadRequest(Exception):
    """Malformed request; 400, never retried by OTLP clients."""


class TooLarge(Exception):
    """Over a size limit; 413."""


class UnsupportedMediaType(Exception):
    """Neither protobuf nor JSON, or an unknown Content-Encoding; 415."""


def inflate(body: bytes, encoding: str, max_decoded_bytes: int) -> bytes:
    """The body decompressed per Content-Encoding (gzip, deflate or none), capped in size."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none"):
        if len(body) > max_decoded_bytes:
            raise TooLarge(f"request body of {len(body)} bytes is over the limit of {max_decoded_bytes}")
        return body
    if encoding == "gzip":
        wbits_options = [zlib.MAX_WBITS | 16]
    elif encoding == "deflate":
        # RFC 9110 deflate is zlib-wrapped (what the Python exporter sends); some send raw deflate
        wbits_options = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    else:
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    last_error: Exception | None = None
    for wbits in wbits_options:
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, max_decoded_bytes + 1)
        except zlib.error as exc:
            last_error = exc
            continue
        if len(data) > max_decoded_bytes or inflater.unconsumed_tail:
            raise TooLarge(f"decompressed body is over the limit of {max_decoded_bytes} bytes")
        if not inflater.eof:
            raise BadRequest(f"malformed {encoding} body: truncated stream")
        return data
    raise BadRequest(f"malformed {encoding} body: {last_error}")


def parse_protobuf(data: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"malformed protobuf ExportTraceServiceRequest: {exc}") from exc


def _hex_to_base64(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be a hex string, got {type(value).__name__}")
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{where} is not valid hex: {value!r}") from exc
    return base64.b64encode(raw).decode("ascii")


def _rewrite_ids(obj: dict, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key in obj and obj[key] is not None:
            obj[key] = _hex_to_base64(obj[key], f"{where}.{key}")


def parse_json(data: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid JSON body: {exc}") from exc
    except RecursionError:
        raise BadRequest(f"invalid JSON body: nested more than Python's {sys.getrecursionlimit()} levels") from None
    if not isinstance(document, dict):
        raise BadRequest("the JSON body must be an ExportTraceServiceRequest object")
    try:
        for i, rs in enumerate(document.get("resourceSpans") or []):
            for j, ss in enumerate(rs.get("scopeSpans") or []):
                for k, span in enumerate(ss.get("spans") or []):
                    where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                    _rewrite_ids(span, ("traceId", "spanId", "parentSpanId"), where)
                    for n, link in enumerate(span.get("links") or []):
                        _rewrite_ids(link, ("traceId", "spanId"), f"{where}.links[{n}]")
    except (AttributeError, TypeError) as exc:
        raise BadRequest(f"malformed ExportTraceServiceRequest JSON: {exc}") from exc
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise BadRequest(f"malformed ExportTraceServiceRequest JSON: {exc}") from exc
    return request


def parse_body(body: bytes, mimetype: str, encoding: str, max_decoded_bytes: int) -> ExportTraceServiceRequest:
    """Decode an OTLP/HTTP trace request body."""
    if mimetype not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(f"unsupported Content-Type {mimetype!r}: OTLP/HTTP needs {PROTOBUF} or {JSON}")
    data = inflate(body, encoding, max_decoded_bytes)
    return parse_protobuf(data) if mimetype == PROTOBUF else parse_json(data)


def encode_response(mimetype: str, rejected_spans: int = 0, message: str = "") -> bytes:
    """An ExportTraceServiceResponse; partial_success only when something is to be said."""
    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = message
    if mimetype == JSON:
        return json.dumps(json_format.MessageToDict(response)).encode()
    return response.SerializeToString()


def encode_status(mimetype: str, code: int, message: str) -> bytes:
    """A google.rpc.Status{code=1, message=2} body, in the request's content type."""
    if mimetype == JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return b"\x08" + uvarint(code) + b"\x12" + uvarint(len(text)) + text
