"""POST /write, /api/v1/write: Prometheus remote_write 1.0.

The request is decoded (remote_write.py), with --high-availability the samples of HA
replicas that do not lead dropped (ha.py), with --multi-tenancy its series labelled with the
request's tenant (``__tenant__``, tenancy.py), its series resolved and its samples written in one
transaction (ingest.py); 204 only after the commit. Errors are raised and answered by the
protocol's error hook (errors.py): 400/413/415 are never retried by Prometheus, 503 is.
"""

from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..telemetry import Telemetry
from ..tenancy import TENANT_LABEL, current_tenant
from . import remote_write
from .ha import HaFilter
from .ingest import Ingestor
from .request_body import decompress, snappy_protobuf_body
from .series_cache import SeriesCache

log = logging.getLogger(__name__)


class RemoteWriteEndpoint:
    """``on_write``; part of the Prometheus handlers (handlers.py), which set these attributes."""

    config: Config
    telemetry: Telemetry
    series_cache: SeriesCache
    ingestor: Ingestor
    ha_filter: HaFilter | None  # --high-availability

    def on_write(self, request: Request) -> Response:
        body = snappy_protobuf_body(request, self.config.max_body_bytes, self.config.body_timeout,
                                    "remote_write", "prometheus.WriteRequest")
        data = decompress(body, self.config.max_decoded_bytes, "remote_write", "prometheus.WriteRequest")
        write = remote_write.decode_request(data)
        dropped = 0
        if self.ha_filter is not None:
            # samples of HA replicas that do not lead at their time: dropped, answered 2xx all the same
            write, dropped = self.ha_filter.apply(write)
        tenant = current_tenant()
        if tenant:  # --multi-tenancy: the tenant's series carry __tenant__ (the database checks it)
            write = remote_write.with_label(write, remote_write.label_field(TENANT_LABEL, tenant))
        result = self.ingestor.ingest(write)
        t = self.telemetry
        if dropped:
            t.inc("promscale_ha_samples_dropped_total", dropped)
        t.inc("promscale_ingest_requests_total")
        t.inc("promscale_ingest_samples_total", result.samples)
        t.inc("promscale_ingest_series_total", result.series)
        t.inc("promscale_ingest_exemplars_total", result.exemplars)
        t.inc("promscale_ingest_metadata_total", result.metadata)
        t.inc("promscale_series_cache_hits_total", result.cache_hits)
        t.inc("promscale_series_cache_misses_total", result.cache_misses)
        if result.histograms_dropped:
            t.inc("promscale_ingest_histograms_dropped_total", result.histograms_dropped)
            log.warning("dropped %d native histogram samples: native histograms are not supported",
                        result.histograms_dropped)
        t.set("promscale_series_cache_entries", len(self.series_cache))
        return Response(status=204)
