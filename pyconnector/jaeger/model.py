"""The Jaeger JSON ("UI model") of spans read from ps_trace, and the response envelope
(shapes of Jaeger 1.38, docs/traces.md)."""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.wrappers import Response

KIND_NAMES = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_NAMES = {1: "OK", 2: "ERROR"}


def envelope(data: Any, total: int = 0, errors: list | None = None) -> dict:
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}


def json_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def error_response(status: int, message: str) -> Response:
    # Jaeger writes errors with http.Error: text/plain, trailing newline, JSON envelope body
    body = json.dumps(envelope(None, errors=[{"code": status, "msg": message}]), separators=(",", ":"))
    return Response(body + "\n", status=status, content_type="text/plain; charset=utf-8")


def _plain(value: Any) -> Any:
    """Stored attribute JSON (docs/traces.md) → the plain JSON Jaeger shows inside strings."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if "kvlist" in value:
            return {k: _plain(v) for k, v in value["kvlist"].items()}
        if "bytes" in value:
            return value["bytes"]
        if "double" in value:
            return value["double"]
    return value


def key_value(key: str, value: Any) -> dict:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    if isinstance(value, dict) and "bytes" in value:
        return {"key": key, "type": "binary", "value": value["bytes"]}
    if isinstance(value, dict) and "double" in value:
        text = value["double"]
        number = float(text)
        if math.isfinite(number):
            return {"key": key, "type": "float64", "value": number}
        return {"key": key, "type": "string", "value": text}
    if value is None:
        return {"key": key, "type": "string", "value": ""}
    return {"key": key, "type": "string", "value": json.dumps(_plain(value), separators=(",", ":"))}


def jaeger_trace_id(hex32: str) -> str:
    """Jaeger prints a trace id whose high 64 bits are zero as 16 hex digits."""
    return hex32[16:] if hex32[:16] == "0" * 16 else hex32


def span_id_hex(span_id: int) -> str:
    return f"{span_id & 0xFFFFFFFFFFFFFFFF:016x}"


def render_traces(rows: list[tuple]) -> list[dict]:
    """Jaeger traces from ps_trace.get_trace_spans rows (ordered by trace)."""
    traces: list[dict] = []
    by_trace: dict[str, list[tuple]] = {}
    for row in rows:
        by_trace.setdefault(row[0].hex, []).append(row)
    for trace_hex, spans in by_trace.items():
        traces.append(render_trace(trace_hex, spans))
    return traces


def render_trace(trace_hex: str, rows: list[tuple]) -> dict:
    trace_id = jaeger_trace_id(trace_hex)
    processes: dict[str, dict] = {}
    process_keys: dict[str, str] = {}
    span_ids = {row[1] for row in rows}
    spans = []
    warnings: list[str] = []
    process_of_resource: dict[int, str] = {}
    for (_tid, span_id, parent_id, service, resource_id, resource_attrs, name, kind, start_ns, end_ns, flags,
         trace_state, attributes, status_code, status_message, scope_name, scope_version, events, links) in rows:
        process_id = process_of_resource.get(resource_id)
        if process_id is None:
            # Jaeger numbers processes in order of appearance, deduplicated by (service, tags)
            process = {"serviceName": service,
                       "tags": [key_value(k, v) for k, v in resource_attrs.items() if k != "service.name"]}
            process_key = json.dumps(process, sort_keys=True)
            if process_key not in process_keys:
                process_keys[process_key] = f"p{len(process_keys) + 1}"
                processes[process_keys[process_key]] = process
            process_id = process_of_resource[resource_id] = process_keys[process_key]
        tags = []
        if scope_name:
            tags.append(key_value("otel.library.name", scope_name))
        if scope_version:
            tags.append(key_value("otel.library.version", scope_version))
        tags.extend(key_value(k, v) for k, v in attributes.items())
        if kind in KIND_NAMES:
            tags.append(key_value("span.kind", KIND_NAMES[kind]))
        if status_code in STATUS_NAMES:
            tags.append(key_value("otel.status_code", STATUS_NAMES[status_code]))
        if status_code == 2:
            tags.append(key_value("error", True))
        if status_message:
            tags.append(key_value("otel.status_description", status_message))
        if trace_state:
            tags.append(key_value("w3c.tracestate", trace_state))
        span_warnings: list[str] = []
        references = []
        if parent_id is not None:
            references.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": span_id_hex(parent_id)})
            if parent_id not in span_ids:
                span_warnings.append(
                    f"invalid parent span IDs={span_id_hex(parent_id)}; skipping clock skew adjustment")
        for link in links or []:
            link_trace = jaeger_trace_id(link["trace_id"])
            link_span = int(link["span_id"], 16)
            link_span = link_span - (1 << 64) if link_span >= 1 << 63 else link_span
            references.append({"refType": "FOLLOWS_FROM", "traceID": link_trace, "spanID": link["span_id"]})
            if link["trace_id"] != trace_hex or link_span not in span_ids:
                span_warnings.append(f"reference to span {link['span_id']} of trace {link_trace}, "
                                     "which is not in this trace")
        logs = []
        for event in events or []:
            fields = [key_value("event", event["name"])]
            fields.extend(key_value(k, v) for k, v in event["attributes"].items())
            logs.append({"timestamp": event["time_unix_nano"] // 1000, "fields": fields})
        span: dict[str, Any] = {
            "traceID": trace_id,
            "spanID": span_id_hex(span_id),
            "operationName": name,
            "references": references,
            "startTime": start_ns // 1000,
            "duration": (end_ns - start_ns) // 1000,
            "tags": tags,
            "logs": logs,
            "processID": process_id,
            "warnings": span_warnings or None,
        }
        if flags & 0xFF:
            span["flags"] = flags & 0xFF
        spans.append(span)
        warnings.extend(f"span {span_id_hex(span_id)}: {w}" for w in span_warnings)
    return {"traceID": trace_id, "spans": spans, "processes": processes, "warnings": warnings or None}
