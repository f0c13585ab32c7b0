"""The maintenance step that computes rollups of one time slice, series batch by batch.

``_prom_catalog.compute_rollups`` (sql/idempotent/326-rollups.sql) picks the slice: windows
ending after the last computed one and no later than the *final horizon*, before which every
bucket is compacted (no head partition, no level-1 partition remains there). Work is
proportional to the slice's samples: the series are found and read through the compressed
rows of the slice's buckets, never the whole history.
"""

from __future__ import annotations

import time
from typing import Any

from . import RESOLUTIONS_S
from .rows import write_windows
from .windows import compute_windows

BATCH_SERIES = 1000

_SERIES_SQL = """
    SELECT coalesce(array_agg(x.series_id), '{}') AS ids FROM (
        SELECT DISTINCT c.series_id
        FROM prom_data.compressed_sample c
        WHERE c.chunk_start > _prom_catalog.timestamptz_from_us($1) - _prom_catalog.get_compressed_row_span_max()
          AND c.chunk_start <= _prom_catalog.timestamptz_from_us($2)
          AND c.max_time > _prom_catalog.timestamptz_from_us($1)
          AND c.min_time <= _prom_catalog.timestamptz_from_us($2)
          AND c.series_id >= $3
        ORDER BY c.series_id
        LIMIT $4) x
"""


def compute_slice(plpy: Any, start_us: int, end_us: int, from_series_id: int,
                  budget_seconds: float) -> dict[str, Any]:
    """Rollups of the windows ending in (start_us, end_us] (both on the hour) for the series
    from ``from_series_id`` on, until done or the budget is spent. Returns the series done, the
    windows written and ``next`` (the series id to go on from; None when the slice is done)."""
    from ..lifecycle.read import read_samples_flat

    started = time.monotonic()
    series_plan = plpy.prepare(_SERIES_SQL, ["int8", "int8", "int8", "int4"])
    read_plans: dict = {}
    write_plans: dict = {}
    stats: dict[str, Any] = {"series": 0, "windows": 0, "next": from_series_id}
    while True:
        ids = plpy.execute(series_plan, [start_us, end_us, stats["next"], BATCH_SERIES])[0]["ids"]
        if ids:
            # (start, end]: the read path's bounds are inclusive
            sids, times, values = read_samples_flat(plpy, read_plans, ids, start_us + 1, end_us)
            for resolution_s in RESOLUTIONS_S:
                windows = compute_windows(sids, times, values, resolution_s * 1_000_000)
                write_windows(plpy, write_plans, resolution_s, windows)
                stats["windows"] += len(windows)
        stats["series"] += len(ids)
        if len(ids) < BATCH_SERIES:
            stats["next"] = None
            return stats
        stats["next"] = ids[-1] + 1
        if time.monotonic() - started >= budget_seconds:
            return stats
