"""OTLP trace ingest shared by both transports: request → validated columns → one
ps_trace.put_spans call in one transaction. The caller answers success only after
this returns (the commit happened)."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..db import Database
from ..telemetry import Telemetry
from .spans import PUT_SPANS_TYPES, to_batch


@dataclass
class ExportResult:
    received: int  # spans in the request
    written: int  # spans newly stored (a retried export writes 0)
    warning: str  # for ExportTracePartialSuccess.error_message ("" when none)


class TraceIngestor:
    def __init__(self, db: Database, telemetry: Telemetry):
        self.db = db
        self.telemetry = telemetry

    def export(self, request: ExportTraceServiceRequest, transport: str) -> ExportResult:
        """Store every span of the request; raises wire.BadRequest before writing anything
        when any span is invalid, db.DatabaseUnavailable / db.InvalidData from the database."""
        batch = to_batch(request)
        written = self.db.put_spans(batch.sql_args(), PUT_SPANS_TYPES) if len(batch) else 0
        warning = ""
        if batch.swapped_times:
            warning = (f"{batch.swapped_times} span(s) ended before they started; "
                       "stored with start and end swapped")
        t = self.telemetry
        t.inc("promscale_trace_requests_total", 1, f'transport="{transport}"')
        t.inc("promscale_trace_spans_received_total", len(batch), f'transport="{transport}"')
        t.inc("promscale_trace_spans_written_total", written)
        t.inc("promscale_trace_events_received_total", len(batch.event_span))
        t.inc("promscale_trace_links_received_total", len(batch.link_span))
        return ExportResult(received=len(batch), written=written, warning=warning)
