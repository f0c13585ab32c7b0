"""The Prometheus protocol's handlers: ``on_<name>`` answers the route table's
``prometheus.<name>`` (pyconnector/routing.py), and ``error_response`` is its error hook.

The handlers are written in one module per wire protocol (write_endpoint.py, read_endpoint.py,
query_api.py) and joined here into the one object the application dispatches to; this class
owns the state they share.
"""

from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from ..config import Config
from ..db import Database
from ..telemetry import Telemetry
from . import errors
from .admin_api import AdminApiEndpoints
from .ha import HaFilter
from .ingest import Ingestor
from .query_api import QueryApiEndpoints
from .read_endpoint import RemoteReadEndpoint
from .series_cache import SeriesCache
from .write_endpoint import RemoteWriteEndpoint


class Prometheus(RemoteWriteEndpoint, RemoteReadEndpoint, QueryApiEndpoints, AdminApiEndpoints):
    def __init__(self, config: Config, db: Database, telemetry: Telemetry):
        self.config = config
        self.db = db
        self.telemetry = telemetry
        # series ids by raw label bytes, per worker process (series_cache.py)
        self.series_cache = SeriesCache(config.series_cache_size)
        self.ingestor = Ingestor(db, self.series_cache)
        # Prometheus HA pairs: the leases of the clusters seen, per worker process (ha.py)
        self.ha_filter = HaFilter(db, config.series_cache_size) if config.high_availability else None
        self.query_timeout_ns = config.query_timeout
        self.started = time.time()

    def error_response(self, request: Request, exc: Exception) -> Response | None:
        """remote_write/remote_read errors as text, HTTP API errors as Prometheus's JSON envelope
        (errors.py); None: not a Prometheus error, the application's hook answers it."""
        return errors.error_response(request, exc, self.telemetry, self.config.cors_origins)

    def refresh_telemetry(self) -> None:
        """Gauges read when /metrics is scraped."""
        self.telemetry.set("promscale_series_cache_entries", len(self.series_cache))
