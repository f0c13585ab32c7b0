"""GET/POST /read, POST /api/v1/read: Prometheus remote_read.

The request is parsed and the response encoded by remote_read.py; the samples of each query
come from one call of prom_api.get_matching_samples. Errors are raised and answered by the
protocol's error hook (errors.py).
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database, QueryFailed, QueryTimeout, TimeBudget
from . import remote_read
from .request_body import snappy_protobuf_body


class RemoteReadEndpoint:
    """``on_read``; part of the Prometheus handlers (handlers.py), which set these attributes."""

    config: Config
    db: Database

    def on_read(self, request: Request) -> Response:
        body = snappy_protobuf_body(request, self.config.max_body_bytes, self.config.body_timeout, "remote_read", "prometheus.ReadRequest")
        read = remote_read.parse_request(body, self.config.max_decoded_bytes)
        kind = remote_read.response_type(read)
        budget = TimeBudget(self.config.query_timeout // 1_000_000)  # the queries of a request share it
        results = [self._read_query(query, budget) for query in read.queries]
        if kind == remote_read.pb.ReadRequest.SAMPLES:
            response = Response(remote_read.samples_response(results), content_type=remote_read.SAMPLES_CONTENT_TYPE)
            response.headers["Content-Encoding"] = "snappy"
            return response
        frames = [f for index, series in enumerate(results)
                  for f in remote_read.streamed_frames(index, series, self.config.read_max_bytes_in_frame)]
        return Response(frames, content_type=remote_read.STREAMED_CONTENT_TYPE)

    def _read_query(self, query: "remote_read.pb.Query", budget: TimeBudget) -> list[remote_read.SeriesData]:
        names, ops, values = remote_read.matchers_of(query)
        try:
            rows = self.db.read_samples(names, ops, values, query.start_timestamp_ms, query.end_timestamp_ms,
                                        budget.left_ms())
        except QueryFailed as exc:
            raise remote_read.BadReadRequest(str(exc)) from exc
        except QueryTimeout:
            # 503, not 400: the same read may succeed later (a 400 tells the client it never will)
            raise QueryTimeout(f"remote read timed out after {budget.budget_ms} ms (--query-timeout)") from None
        series = sorted((remote_read.SeriesData(keys, vals, times, samples) for keys, vals, times, samples in rows),
                        key=lambda s: list(zip(s.keys, s.values)))
        limit = self.config.read_sample_limit
        if limit and sum(len(s.times_ms) for s in series) > limit:
            raise remote_read.BadReadRequest(f"exceeded sample limit ({limit})")
        return series
