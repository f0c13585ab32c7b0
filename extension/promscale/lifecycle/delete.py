"""Deleting the samples of selected series in a time range (``prom_api.delete_series``,
Prometheus's ``/api/v1/admin/tsdb/delete_series``), on every level at once.

Called in one transaction by sql/idempotent/335-delete-series.sql. Series come from the
PromQL engine's own selector parsing and lookup (httpapi.selectors), so a deletion selects
exactly what a query with the same selector reads. Locks are taken in the flush's order
(sql/idempotent/322-flush.sql): the buckets of the range first (no flush or compaction
rewrites those compressed rows meanwhile), then the write lock of each head partition of the
range, shared as writers hold it (a flush waits for us, so it either read the partition
before, and its level-1 rows are deleted here too, or reads it after, without the rows).

The head loses rows with a plain DELETE (the series_id index). A compressed row wholly
inside the range is deleted; one that straddles an end is decoded, cut and written back with
its level's codecs (RAW for level 1, the full codecs for level 2). Readers with an older
snapshot keep seeing the old rows, as for any DELETE. Then the rollups of the range are
corrected (rollup/delete.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import (decode_times, decode_values, encode_times, encode_times_raw, encode_values,
                     encode_values_raw)
from ..httpapi.selectors import SelectorError, parse_match_params, select_series
from ..rollup.delete import remove_deleted

SERIES_PER_BATCH = 1000  # compressed rows are read for this many series at a time: bounds memory
_TS = "_prom_catalog.timestamptz_from_us({})"


class InvalidDeletion(ValueError):
    """A request that can never succeed: a selector that does not parse, an empty range."""


_HEAD_CHUNKS = """
    SELECT c.id, c.table_name FROM _prom_catalog.sample_chunk c
    WHERE c.end_time > {lo} AND c.start_time <= {hi}
    ORDER BY c.id FOR KEY SHARE
""".format(lo=_TS.format("$1"), hi=_TS.format("$2"))

# the rows of a series that can hold samples in [lo, hi]: a row lies within one bucket,
# at or after its chunk_start, so chunk_start bounds prune the partitions
_COMPRESSED_ROWS = """
    SELECT c.level, c.series_id, _prom_catalog.timestamptz_to_us(c.chunk_start) AS key,
           _prom_catalog.timestamptz_to_us(c.min_time) AS min_us,
           _prom_catalog.timestamptz_to_us(c.max_time) AS max_us, c.count, c.times, c.vals
    FROM prom_data.compressed_sample c
    WHERE c.series_id = ANY ($1) AND c.max_time >= {lo} AND c.min_time <= {hi}
      AND c.chunk_start <= {hi} AND c.chunk_start > {lo} - $3 * interval '1 microsecond'
""".format(lo=_TS.format("$2"), hi=_TS.format("$4"))

_ROW_KEYS = "unnest($1::int2[], $2::int8[], $3::int8[]) AS k(l, s, b)"
_DELETE_ROWS = """
    DELETE FROM prom_data.compressed_sample c USING {keys}
    WHERE c.level = k.l AND c.series_id = k.s AND c.chunk_start = {b}
""".format(keys=_ROW_KEYS, b=_TS.format("k.b"))
_UPDATE_ROWS = """
    UPDATE prom_data.compressed_sample c
    SET min_time = {lo}, max_time = {hi}, count = u.n, times = u.t, vals = u.v
    FROM unnest($1::int2[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int4[], $7::bytea[], $8::bytea[])
         AS u(l, s, b, lo, hi, n, t, v)
    WHERE c.level = u.l AND c.series_id = u.s AND c.chunk_start = {b}
""".format(lo=_TS.format("u.lo"), hi=_TS.format("u.hi"), b=_TS.format("u.b"))
_DELETE_EXEMPLARS = """
    DELETE FROM prom_data.exemplar e
    WHERE e.series_id = ANY ($1) AND e.time >= {lo} AND e.time <= {hi}
""".format(lo=_TS.format("$2"), hi=_TS.format("$3"))


def delete_series(plpy: Any, session: dict, selector: str, start_us: int, end_us: int,
                  bucket_interval_us: int) -> int:
    """Deletes the samples in [start_us, end_us] (microseconds since 2000, int8 bounds for
    ±infinity) of every series ``selector`` matches; returns how many were deleted."""
    if start_us > end_us:
        raise InvalidDeletion("end timestamp must not be before start time")
    try:
        (matchers,) = parse_match_params([selector])
    except SelectorError as exc:
        raise InvalidDeletion(f"invalid series selector {selector!r}: {exc}") from None
    series_ids = sorted(sid for _, sid in select_series(plpy, session, [matchers]))
    if not series_ids:
        return 0
    plpy.execute(plpy.prepare(f"SELECT _prom_catalog.lock_buckets({_TS.format('$1')}, {_TS.format('$2')} "
                              "+ interval '1 microsecond')", ["int8", "int8"]), [start_us, end_us])
    deleted = _delete_from_head(plpy, series_ids, start_us, end_us)
    for lo in range(0, len(series_ids), SERIES_PER_BATCH):
        deleted += _delete_compressed(plpy, series_ids[lo:lo + SERIES_PER_BATCH], start_us, end_us,
                                      bucket_interval_us)
    # the rollups lose the deleted samples' contribution (rollup/delete.py), after the raw
    # samples are gone: the windows at the range's ends are computed again from what remains
    rollup_plans: dict = {}
    for lo in range(0, len(series_ids), SERIES_PER_BATCH):
        remove_deleted(plpy, rollup_plans, series_ids[lo:lo + SERIES_PER_BATCH], start_us, end_us)
    plpy.execute(plpy.prepare(_DELETE_EXEMPLARS, ["int8[]", "int8", "int8"]), [series_ids, start_us, end_us])
    # series left without samples are garbage-collected like those retention emptied
    plpy.execute(plpy.prepare("SELECT _prom_catalog.mark_unused_series($1)", ["int8[]"]), [series_ids])
    return deleted


def _delete_from_head(plpy: Any, series_ids: list[int], start_us: int, end_us: int) -> int:
    chunks = plpy.execute(plpy.prepare(_HEAD_CHUNKS, ["int8", "int8"]), [start_us, end_us])
    deleted = 0
    for chunk in chunks:
        # shared, like a writer: no flush or drop of the partition until we commit
        plpy.execute(plpy.prepare("SELECT pg_catalog.pg_advisory_xact_lock_shared(1886547831, ($1 % 2147483647)::int)",
                                  ["int8"]), [chunk["id"]])
        table = plpy.quote_ident(chunk["table_name"])
        deleted += plpy.execute(plpy.prepare(
            f"DELETE FROM prom_data.{table} WHERE series_id = ANY ($1) "
            f"AND time >= {_TS.format('$2')} AND time <= {_TS.format('$3')}", ["int8[]", "int8", "int8"]),
            [series_ids, start_us, end_us]).nrows()
    return deleted


def _delete_compressed(plpy: Any, series_ids: list[int], start_us: int, end_us: int,
                       bucket_interval_us: int) -> int:
    rows = plpy.execute(plpy.prepare(_COMPRESSED_ROWS, ["int8[]", "int8", "int8", "int8"]),
                        [series_ids, start_us, bucket_interval_us, end_us])
    gone: list[tuple[int, int, int]] = []
    cut: list[tuple] = []
    deleted = 0
    for row in rows:
        key = (row["level"], row["series_id"], row["key"])
        if start_us <= row["min_us"] and row["max_us"] <= end_us:
            gone.append(key)
            deleted += row["count"]
            continue
        times = decode_times(row["times"])
        keep = (times < start_us) | (times > end_us)
        if keep.all():
            continue
        times, values = times[keep], decode_values(row["vals"])[keep]
        deleted += int(np.count_nonzero(~keep))
        if row["level"] == 1:
            encoded = (encode_times_raw(times), encode_values_raw(values))
        else:
            encoded = (encode_times(times), encode_values(values))
        cut.append((*key, int(times[0]), int(times[-1]), len(times), *encoded))
    if gone:
        plpy.execute(plpy.prepare(_DELETE_ROWS, ["int2[]", "int8[]", "int8[]"]), [list(c) for c in zip(*gone)])
    if cut:
        plpy.execute(plpy.prepare(_UPDATE_ROWS, ["int2[]", "int8[]", "int8[]", "int8[]", "int8[]", "int4[]",
                                                 "bytea[]", "bytea[]"]), [list(c) for c in zip(*cut)])
    return deleted
