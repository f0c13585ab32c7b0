"""Compact a level-1 (flushed) partition: its RAW rows become one fully encoded row per
series per bucket in level 2.

Called by ``_prom_catalog.compact_partition`` (sql/idempotent/324-compaction.sql) for one
slice of the partition's series at a time, each slice in its own transaction under the
bucket's lock, so that flushes and other maintenance steps run between slices. The
partition is sealed (flushes write level 2 directly from then on), so its rows no longer
change; the level-1 rows stay until the whole partition is dropped (readers merge the
overlapping rows meanwhile), which returns its space at once and writes no dead rows.
"""

from __future__ import annotations

import time
from typing import Any

from ..codec import SampleArrays, decode_times, decode_values, merge_samples
from .buckets import split_by_bucket
from .rows import write_compacted

FETCH_SERIES = 500  # series per batch: bounds memory, and how often the time budget is checked

_SERIES_SQL = """
    SELECT c.series_id, array_agg(c.times ORDER BY c.chunk_start) AS times,
           array_agg(c.vals ORDER BY c.chunk_start) AS vals
    FROM prom_data.{table} c
    WHERE c.series_id >= $1
    GROUP BY c.series_id
    ORDER BY c.series_id
    LIMIT $2
"""


def compact_rows(plpy: Any, table: str, from_series_id: int, bucket_interval_us: int,
                 budget_seconds: float) -> dict[str, Any]:
    """Compacts the series of level-1 partition ``table`` from ``from_series_id`` on, batch by
    batch, until the partition is done or ``budget_seconds`` have passed. Returns the series
    and samples compacted and ``next`` (the series id to go on from; None when done)."""
    started = time.monotonic()
    plan = plpy.prepare(_SERIES_SQL.format(table=plpy.quote_ident(table)), ["int8", "int4"])
    plans: dict = {}
    stats: dict[str, Any] = {"series": 0, "samples": 0, "next": from_series_id}
    while True:
        batch = plpy.execute(plan, [stats["next"], FETCH_SERIES])
        fresh: dict[tuple[int, int], SampleArrays] = {}
        for row in batch:
            parts = [SampleArrays(decode_times(t), decode_values(v)) for t, v in zip(row["times"], row["vals"])]
            for bucket, samples in split_by_bucket(merge_samples(parts), bucket_interval_us):
                fresh[(row["series_id"], bucket)] = samples
        stats["samples"] += write_compacted(plpy, plans, fresh)
        stats["series"] += len(batch)
        if len(batch) < FETCH_SERIES:
            stats["next"] = None
            return stats
        stats["next"] = batch[len(batch) - 1]["series_id"] + 1
        if time.monotonic() - started >= budget_seconds:
            return stats
