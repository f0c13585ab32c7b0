"""The Jaeger query HTTP API (what the Jaeger UI and Grafana's Jaeger data source call).

Request parsing and the Jaeger JSON ("UI model") are here; the queries are ps_trace
functions of the extension. Shapes follow Jaeger 1.38 (docs/traces.md lists them).
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from .db import Database

KIND_NAMES = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_NAMES = {1: "OK", 2: "ERROR"}
SPAN_KINDS = ("server", "client", "producer", "consumer", "internal")
DEFAULT_LIMIT = 100


class JaegerError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- responses ---

def envelope(data: Any, total: int = 0, errors: list | None = None) -> dict:
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}


def json_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def error_response(status: int, message: str) -> Response:
    # Jaeger writes errors with http.Error: text/plain, trailing newline, JSON envelope body
    body = json.dumps(envelope(None, errors=[{"code": status, "msg": message}]), separators=(",", ":"))
    return Response(body + "\n", status=status, content_type="text/plain; charset=utf-8")


# --- request parsing ---

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> timedelta:
    """A Go time.ParseDuration string ('1.2s', '100ms', '1h15m', '500us') as a timedelta."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if not match:
            raise ValueError(f"time: invalid duration {text!r}")
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    return timedelta(seconds=sign * seconds)


def parse_trace_id(text: str) -> str:
    """32 lower-case hex digits of a Jaeger trace id (up to 32 hex; shorter fills the low bits)."""
    if not text or len(text) > 32 or not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise JaegerError(400, f"cannot parse traceID {text!r}: expected up to 32 hex digits")
    return text.lower().rjust(32, "0")


def _micros_param(args: MultiDict, name: str, default: datetime) -> datetime:
    raw = args.get(name)
    if not raw:
        return default
    try:
        return datetime.fromtimestamp(int(raw) / 1e6, tz=timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is not an integer of microseconds") from exc


def _int_param(args: MultiDict, name: str, default: int) -> int:
    raw = args.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is not an integer") from exc


def _duration_param(args: MultiDict, name: str) -> timedelta | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return parse_go_duration(raw)
    except ValueError as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {exc}") from exc


def parse_tags(args: MultiDict) -> dict[str, str]:
    tags: dict[str, str] = {}
    for raw in args.getlist("tags"):
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise JaegerError(400, f"malformed 'tags' parameter, expecting JSON object: {raw!r}") from exc
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise JaegerError(400, f"malformed 'tags' parameter, expecting a JSON object of strings: {raw!r}")
        tags.update(parsed)
    for raw in args.getlist("tag"):
        key, sep, value = raw.partition(":")
        if not sep:
            raise JaegerError(400, f"malformed 'tag' parameter, expecting key:value, received: {raw!r}")
        tags[key] = value
    return tags


# --- OTLP → Jaeger JSON ---

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


# --- handlers ---

class JaegerApi:
    def __init__(self, db: Database):
        self.db = db

    def handlers(self) -> dict[str, Callable[..., Response]]:
        return {
            "jaeger_services": self.on_services,
            "jaeger_service_operations": self.on_service_operations,
            "jaeger_operations": self.on_operations,
            "jaeger_traces": self.on_traces,
            "jaeger_trace": self.on_trace,
            "jaeger_dependencies": self.on_dependencies,
            "jaeger_archive": self.on_archive,
        }

    def _guard(self, work: Callable[[], Response]) -> Response:
        try:
            return work()
        except JaegerError as exc:
            return error_response(exc.status, str(exc))

    def on_services(self, request: Request, **_: Any) -> Response:
        services = [row[0] for row in self.db.query("SELECT ps_trace.get_services()")]
        return json_response(envelope(services, total=len(services)))

    def on_service_operations(self, request: Request, service: str, **_: Any) -> Response:
        rows = self.db.query("SELECT DISTINCT span_name FROM ps_trace.get_operations(%s) ORDER BY 1", (service,))
        names = [row[0] for row in rows]
        return json_response(envelope(names, total=len(names)))

    def on_operations(self, request: Request, **_: Any) -> Response:
        def work() -> Response:
            service = request.args.get("service")
            if not service:
                raise JaegerError(400, "parameter 'service' is required")
            kind = request.args.get("spanKind") or None
            if kind is not None and kind not in SPAN_KINDS:
                raise JaegerError(400, f"unsupported spanKind {kind!r}: use one of {', '.join(SPAN_KINDS)}")
            rows = self.db.query("SELECT span_name, span_kind FROM ps_trace.get_operations(%s, %s)", (service, kind))
            data = [{"name": name, "spanKind": "" if k == "unspecified" else k} for name, k in rows]
            return json_response(envelope(data, total=len(data)))

        return self._guard(work)

    def on_traces(self, request: Request, **_: Any) -> Response:
        return self._guard(lambda: self._search(request.args))

    def _search(self, args: MultiDict) -> Response:
        trace_ids = args.getlist("traceID")
        if trace_ids:
            wanted = [parse_trace_id(t) for t in trace_ids]
            rows = self.db.query("SELECT * FROM ps_trace.get_trace_spans(%s::uuid[])", (wanted,))
            traces = render_traces(rows)
            found = {t["traceID"] for t in traces}
            errors = [{"code": 404, "msg": "trace not found", "traceID": jaeger_trace_id(t)}
                      for t in wanted if jaeger_trace_id(t) not in found]
            return json_response(envelope(traces, errors=errors or None))
        service = args.get("service")
        if not service:
            raise JaegerError(400, "parameter 'service' is required")
        now = datetime.now(timezone.utc)
        end = _micros_param(args, "end", now)
        start = _micros_param(args, "start", end - timedelta(hours=48))
        limit = _int_param(args, "limit", DEFAULT_LIMIT)
        if limit <= 0:
            limit = DEFAULT_LIMIT
        min_duration = _duration_param(args, "minDuration")
        max_duration = _duration_param(args, "maxDuration")
        if min_duration is not None and max_duration is not None and max_duration < min_duration:
            raise JaegerError(400, "'maxDuration' should be greater than 'minDuration'")
        tags = parse_tags(args)
        ids = self.db.query(
            "SELECT trace_id FROM ps_trace.find_trace_ids(%s, %s, %s::jsonb, %s, %s, %s, %s, %s)",
            (service, args.get("operation") or None, json.dumps(tags) if tags else None, start, end,
             min_duration, max_duration, limit))
        if not ids:
            return json_response(envelope([]))
        order = {row[0].hex: n for n, row in enumerate(ids)}
        rows = self.db.query("SELECT * FROM ps_trace.get_trace_spans(%s::uuid[])", ([row[0] for row in ids],))
        traces = sorted(render_traces(rows), key=lambda t: order[t["traceID"].rjust(32, "0")])
        return json_response(envelope(traces))

    def on_trace(self, request: Request, trace_id: str, **_: Any) -> Response:
        def work() -> Response:
            wanted = parse_trace_id(trace_id)
            start = _micros_param(request.args, "start", datetime(1, 1, 1, tzinfo=timezone.utc))
            end = _micros_param(request.args, "end", datetime(9999, 12, 31, tzinfo=timezone.utc))
            rows = self.db.query("SELECT * FROM ps_trace.get_trace_spans(ARRAY[%s::uuid], %s, %s)",
                                 (wanted, start, end))
            if not rows:
                raise JaegerError(404, "trace not found")
            return json_response(envelope(render_traces(rows)))

        return self._guard(work)

    def on_dependencies(self, request: Request, **_: Any) -> Response:
        def work() -> Response:
            end_ms = _int_param(request.args, "endTs", int(time.time() * 1000))
            lookback_ms = _int_param(request.args, "lookback", 24 * 3600 * 1000)
            end = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
            start = end - timedelta(milliseconds=lookback_ms)
            rows = self.db.query("SELECT parent, child, call_count FROM ps_trace.get_dependencies(%s, %s)",
                                 (start, end))
            service = request.args.get("service")
            data = [{"parent": p, "child": c, "callCount": n} for p, c, n in rows
                    if not service or service in (p, c)]
            return json_response(envelope(data))

        return self._guard(work)

    def on_archive(self, request: Request, **_: Any) -> Response:
        # archiving is a no-op: retention is the same for all traces
        return json_response(envelope([]))


__all__ = ["JaegerApi", "parse_go_duration", "render_trace", "key_value"]
