"""What the /status page shows, read from the extension's prom_info views and settings.

Each section is one small read-only statement; the page asks for the costlier per-metric storage
(it reads every compressed row and every head sample) separately, on demand.
"""

from __future__ import annotations

import datetime
import decimal
import platform
from typing import Any

from ..db import Database

METRICS_SHOWN = 200

SETTINGS_SQL = """
SELECT prom_api.get_default_retention_period()::text, ps_trace.get_trace_retention_period()::text,
       prom_api.get_default_chunk_interval()::text, prom_api.get_flush_delay()::text,
       prom_api.get_compression_delay()::text, prom_api.get_compressed_chunk_interval()::text,
       current_setting('server_version'), current_database()
"""
MAINTENANCE_SQL = ("SELECT task, description, pending, done, last_done_at, last_item "
                   "FROM prom_info.maintenance")
STORAGE_SQL = "SELECT tier, partitions, samples, total_bytes, bytes_per_sample FROM prom_info.storage"
RETENTION_SQL = ("SELECT metric_name, retention_period::text FROM prom_info.retention "
                 "WHERE NOT is_default ORDER BY metric_name")
METRICS_SQL = """
SELECT metric_name, series_count, metric_type, count(*) OVER (), sum(series_count) OVER ()
FROM prom_info.metric ORDER BY series_count DESC, metric_name LIMIT %s
"""
METRIC_STORAGE_SQL = """
SELECT metric_name, series_count, head_samples, head_bytes, compressed_samples, compressed_bytes,
       bytes_per_sample
FROM prom_info.metric_storage ORDER BY head_bytes + compressed_bytes DESC, metric_name LIMIT %s
"""


def _plain(value: Any) -> Any:
    """A database value as JSON can carry it."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    return value


def _rows(db: Database, sql: str, names: list[str], params: tuple = ()) -> list[dict[str, Any]]:
    return [dict(zip(names, map(_plain, row))) for row in db.query(sql, params)]


def status(db: Database, connector_version: str) -> dict[str, Any]:
    (default_retention, trace_retention, chunk_interval, flush_delay, compression_delay, compressed_interval,
     server_version, database) = db.query(SETTINGS_SQL)[0]
    metrics = db.query(METRICS_SQL, (METRICS_SHOWN,))
    return {
        "build": {
            "connector_version": connector_version,
            "extension_version": db.extension_version(),
            "postgresql_version": server_version,
            "database": database,
            "python_version": platform.python_version(),
        },
        "settings": {
            "default_retention_period": default_retention,
            "trace_retention_period": trace_retention,
            "head_chunk_interval": chunk_interval,
            "flush_delay": flush_delay,
            "compression_delay": compression_delay,
            "compressed_chunk_interval": compressed_interval,
        },
        "retention_overrides": _rows(db, RETENTION_SQL, ["metric", "retention_period"]),
        "maintenance": _rows(db, MAINTENANCE_SQL, ["task", "description", "pending", "done", "last_done_at",
                                                   "last_item"]),
        "storage": _rows(db, STORAGE_SQL, ["tier", "partitions", "samples", "total_bytes", "bytes_per_sample"]),
        "metrics": {
            "total_metrics": metrics[0][3] if metrics else 0,
            "total_series": int(metrics[0][4]) if metrics else 0,
            "shown": [{"metric": m, "series": int(n), "type": t} for m, n, t, _, _ in metrics],
        },
    }


def metric_storage(db: Database, limit: int = METRICS_SHOWN) -> list[dict[str, Any]]:
    return _rows(db, METRIC_STORAGE_SQL, ["metric", "series", "head_samples", "head_bytes", "compressed_samples",
                                          "compressed_bytes", "bytes_per_sample"], (limit,))
