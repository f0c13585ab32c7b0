"""Flush head partitions: their samples become rows of ``prom_data.compressed_sample``.

Called by ``_prom_catalog.flush_chunks`` (sql/idempotent/322-flush.sql) in one transaction,
for closed head partitions of one bucket, while no writer can add rows to them (the
caller holds their write locks) and no other session writes the keys touched (bucket
locks). The partitions' rows are read once, in series order (their series_id btree:
memory stays bounded by ``FETCH_SERIES``, and no sort of the partition spills to disk);
each series' samples are sorted and deduplicated like the read path does, then written

* as a level-1 row (RAW codec, almost no CPU) keyed at the start of the flushed range,
  when the bucket has an open level-1 partition (the common case: a partition minutes old);
* merged into the level-2 (compacted) row of its bucket, when the bucket is already being
  compacted or due for it (late samples, or a backlog: a bucket's partitions are flushed
  together, so each compacted row is written once).

The partitions keep their rows: the caller marks them flushed, and maintenance drops them
once no snapshot older than the flush remains (a reader that started before the flush sees
the rows there, one that starts after sees them in compressed_sample).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import SampleArrays, dedup_sorted, raw_times, raw_values
from .buckets import big_endian_times, big_endian_values, bucket_of, split_by_bucket
from .rows import FlushedRow, write_compacted, write_flushed

FETCH_SERIES = 2000  # series per batch: bounds memory on large partitions

_READ_SQL = """
    SELECT h.series_id,
           string_agg(pg_catalog.timestamptz_send(h.time), ''::bytea) AS times,
           string_agg(pg_catalog.float8send(h.value), ''::bytea) AS vals
    FROM ({union}) h
    GROUP BY h.series_id
    ORDER BY h.series_id
"""


def read_sql(plpy: Any, table_names: list[str]) -> str:
    """All rows of the partitions, one row per series, in series order."""
    union = " UNION ALL ".join(f"SELECT series_id, time, value FROM prom_data.{plpy.quote_ident(name)}"
                               for name in table_names)
    return _READ_SQL.format(union=union)


def flush_chunks(plpy: Any, table_names: list[str], bucket_interval_us: int,
                 flushed_keys: list[int], flushed_tables: list[str]) -> dict[str, int]:
    """Writes every row of the head partitions ``table_names`` into compressed rows. Samples
    of the bucket holding ``flushed_keys[i]`` go to level-1 partition ``flushed_tables[i]``
    under that key (the later of the bucket start and the partitions' start); samples of
    other buckets are compacted at once. Returns counts: head rows read, level-1 rows written,
    samples compacted."""
    targets = {bucket_of(key, bucket_interval_us): (key, table) for key, table in zip(flushed_keys, flushed_tables)}
    plans: dict = {}
    stats = {"samples": 0, "flushed_rows": 0, "compacted": 0}
    cursor = plpy.cursor(read_sql(plpy, table_names))
    while True:
        batch = cursor.fetch(FETCH_SERIES)
        if not batch:
            break
        level1: dict[str, list[FlushedRow]] = {}
        level2: dict[tuple[int, int], SampleArrays] = {}
        for row, (count, first, last, plain) in zip(batch, _survey(batch)):
            stats["samples"] += count
            bucket = bucket_of(first, bucket_interval_us)
            if plain and bucket in targets and bucket_of(last, bucket_interval_us) == bucket:
                # the common case: written in order, one bucket: the rows as SQL sent them
                key, table = targets[bucket]
                level1.setdefault(table, []).append(FlushedRow(
                    row["series_id"], key, first, last, count,
                    raw_times(row["times"], count), raw_values(row["vals"], count)))
                continue
            samples = dedup_sorted(big_endian_times(row["times"]), big_endian_values(row["vals"]))
            for bucket, part in split_by_bucket(samples, bucket_interval_us):
                if bucket in targets:
                    key, table = targets[bucket]
                    level1.setdefault(table, []).append(FlushedRow.of(row["series_id"], key, part))
                else:
                    level2[(row["series_id"], bucket)] = part
        for table, rows in level1.items():
            stats["flushed_rows"] += write_flushed(plpy, plans, table, rows)
        stats["compacted"] += write_compacted(plpy, plans, level2)
    return stats


def _survey(batch: Any) -> list[tuple[int, int, int, bool]]:
    """Per series of a fetched batch, with a few NumPy calls for the whole batch: (sample
    count, first time, last time, whether its times are strictly increasing)."""
    counts = np.fromiter((len(row["times"]) >> 3 for row in batch), dtype=np.int64, count=len(batch))
    times = big_endian_times(b"".join(row["times"] for row in batch))
    starts = np.cumsum(counts) - counts
    rising = np.empty(len(times), dtype=bool)
    rising[1:] = times[1:] > times[:-1]
    rising[starts] = True  # a series' first time follows no other
    plain = np.logical_and.reduceat(rising, starts)
    return list(zip(counts.tolist(), times[starts].tolist(), times[starts + counts - 1].tolist(), plain.tolist()))
