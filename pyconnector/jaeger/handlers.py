"""The Jaeger query HTTP API (what the Jaeger UI and Grafana's Jaeger data source call):
the handlers of the route table's "jaeger.<name>" endpoints, and the protocol's error hook.

Request parsing is in params.py, the Jaeger JSON in model.py; the queries are ps_trace
functions of the extension. Shapes follow Jaeger 1.38 (docs/traces.md lists them).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from werkzeug.wrappers import Request, Response

from ..db import Database, QueryTimeout, TimeBudget
from .model import envelope, error_response, jaeger_trace_id, json_response, render_traces
from .params import (SPAN_KINDS, JaegerError, before, duration_param, int_param, limit_param, micros_param,
                     parse_tags, parse_trace_id, time_param)


class Jaeger:
    """The Jaeger endpoints: ``on_<name>`` answers the route table's ``jaeger.<name>``
    (pyconnector/routing.py); ``error_response`` is the protocol's error hook."""

    def __init__(self, db: Database, query_timeout_ms: int | None = None):
        self.db = db
        self.query_timeout_ms = query_timeout_ms

    def error_response(self, request: Request, exc: Exception) -> Response | None:
        """Jaeger's JSON error body for what a handler raised; None: not Jaeger's error, the
        application's hook answers it (database unavailable, internal error)."""
        if isinstance(exc, JaegerError):
            return error_response(exc.status, str(exc))
        if isinstance(exc, QueryTimeout):
            return error_response(503, f"query timed out after {self.query_timeout_ms} ms (--query-timeout)")
        return None

    def _query(self, budget: TimeBudget, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """One statement of a request whose statements share ``budget`` (--query-timeout)."""
        return self.db.query(sql, params, timeout_ms=budget.left_ms())

    def on_services(self, request: Request) -> Response:
        services = [row[0] for row in self.db.query("SELECT ps_trace.get_services()")]
        return json_response(envelope(services, total=len(services)))

    def on_service_operations(self, request: Request, service: str) -> Response:
        rows = self.db.query("SELECT DISTINCT span_name FROM ps_trace.get_operations(%s) ORDER BY 1", (service,))
        names = [row[0] for row in rows]
        return json_response(envelope(names, total=len(names)))

    def on_operations(self, request: Request) -> Response:
        service = request.args.get("service")
        if not service:
            raise JaegerError(400, "parameter 'service' is required")
        kind = request.args.get("spanKind") or None
        if kind is not None and kind not in SPAN_KINDS:
            raise JaegerError(400, f"unsupported spanKind {kind!r}: use one of {', '.join(SPAN_KINDS)}")
        rows = self.db.query("SELECT span_name, span_kind FROM ps_trace.get_operations(%s, %s)", (service, kind))
        data = [{"name": name, "spanKind": "" if k == "unspecified" else k} for name, k in rows]
        return json_response(envelope(data, total=len(data)))

    def on_traces(self, request: Request) -> Response:
        args = request.args
        trace_ids = args.getlist("traceID")
        if trace_ids:
            return self._traces_by_id(trace_ids)
        service = args.get("service")
        if not service:
            raise JaegerError(400, "parameter 'service' is required")
        now = datetime.now(timezone.utc)
        end = micros_param(args, "end", now)
        start = micros_param(args, "start", before(end, timedelta(hours=48), "end"))
        limit = limit_param(args)
        min_duration = duration_param(args, "minDuration")
        max_duration = duration_param(args, "maxDuration")
        if min_duration is not None and max_duration is not None and max_duration < min_duration:
            raise JaegerError(400, "'maxDuration' should be greater than 'minDuration'")
        tags = parse_tags(args)
        budget = TimeBudget(self.query_timeout_ms)
        ids = self._query(
            budget, "SELECT trace_id FROM ps_trace.find_trace_ids(%s, %s, %s::jsonb, %s, %s, %s, %s, %s)",
            (service, args.get("operation") or None, json.dumps(tags) if tags else None, start, end,
             min_duration, max_duration, limit))
        if not ids:
            return json_response(envelope([]))
        order = {row[0].hex: n for n, row in enumerate(ids)}
        rows = self._query(budget, "SELECT * FROM ps_trace.get_trace_spans(%s::uuid[])", ([row[0] for row in ids],))
        traces = sorted(render_traces(rows), key=lambda t: order[t["traceID"].rjust(32, "0")])
        return json_response(envelope(traces))

    def _traces_by_id(self, trace_ids: list[str]) -> Response:
        wanted = [parse_trace_id(t) for t in trace_ids]
        rows = self.db.query("SELECT * FROM ps_trace.get_trace_spans(%s::uuid[])", (wanted,))
        traces = render_traces(rows)
        found = {t["traceID"] for t in traces}
        errors = [{"code": 404, "msg": "trace not found", "traceID": jaeger_trace_id(t)}
                  for t in wanted if jaeger_trace_id(t) not in found]
        return json_response(envelope(traces, errors=errors or None))

    def on_trace(self, request: Request, trace_id: str) -> Response:
        wanted = parse_trace_id(trace_id)
        start = micros_param(request.args, "start", datetime(1, 1, 1, tzinfo=timezone.utc))
        end = micros_param(request.args, "end", datetime(9999, 12, 31, tzinfo=timezone.utc))
        rows = self.db.query("SELECT * FROM ps_trace.get_trace_spans(ARRAY[%s::uuid], %s, %s)",
                             (wanted, start, end))
        if not rows:
            raise JaegerError(404, "trace not found")
        return json_response(envelope(render_traces(rows)))

    def on_dependencies(self, request: Request) -> Response:
        end = time_param(request.args, "endTs", datetime.now(timezone.utc), 1e-3)
        lookback_ms = int_param(request.args, "lookback", 24 * 3600 * 1000)
        try:
            lookback = timedelta(milliseconds=lookback_ms)
        except OverflowError:
            raise JaegerError(400, f"parameter 'lookback' is {lookback_ms} ms, beyond any time range") from None
        start = before(end, lookback, "lookback")
        rows = self.db.query("SELECT parent, child, call_count FROM ps_trace.get_dependencies(%s, %s)",
                             (start, end))
        service = request.args.get("service")
        data = [{"parent": p, "child": c, "callCount": n} for p, c, n in rows
                if not service or service in (p, c)]
        return json_response(envelope(data))

    def on_archive(self, request: Request, trace_id: str) -> Response:
        # archiving is a no-op: retention is the same for all traces
        return json_response(envelope([]))

