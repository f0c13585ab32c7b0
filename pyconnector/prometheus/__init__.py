"""Prometheus: remote_write, remote_read and the HTTP API (query, series, labels, metadata,
status), over the metrics of the promscale extension."""

from .handlers import Prometheus

__all__ = ["Prometheus"]
