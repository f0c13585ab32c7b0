"""Compress head partitions: move their rows into compressed rows, merging with what is there.

Called by ``_prom_catalog.compress_chunks`` inside one transaction, normally for the head
partitions of one bucket, so that each compressed row is written once:

1. ``DELETE ... RETURNING`` the partitions' rows visible to this transaction.
   Rows a concurrent writer commits later are not touched: they stay in the head
   and the next maintenance merges them, so nothing is lost and no lock on
   writers is needed.
2. For each series, group the moved samples by bucket; read the compressed rows
   already stored for those (series, bucket) pairs (late data, or a neighbouring
   head partition sharing the bucket), merge, deduplicate like the read path,
   encode, and write
   (replacing the stored rows).

The caller holds advisory locks on every bucket the partitions span, so two
sessions never rewrite the same compressed row from different snapshots.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import SampleArrays, decode_times, decode_values, encode_times, encode_values, merge_samples
from .buckets import big_endian_times, big_endian_values, bucket_starts

FETCH_SERIES = 500  # series per batch: bounds memory on large partitions

# microseconds since 2000 → timestamptz, exactly
_TS = "_prom_catalog.timestamptz_from_us({})"

_MOVE_SQL = """
    WITH {deletes},
    moved AS ({union})
    SELECT series_id,
           string_agg(pg_catalog.timestamptz_send(time), ''::bytea) AS times,
           string_agg(pg_catalog.float8send(value), ''::bytea) AS vals
    FROM moved GROUP BY series_id ORDER BY series_id
"""


def _move_sql(plpy: Any, table_names: list[str]) -> str:
    deletes = ", ".join(f"m{i} AS (DELETE FROM prom_data.{plpy.quote_ident(name)} RETURNING series_id, time, value)"
                        for i, name in enumerate(table_names))
    union = " UNION ALL ".join(f"SELECT * FROM m{i}" for i in range(len(table_names)))
    return _MOVE_SQL.format(deletes=deletes, union=union)


_EXISTING_SQL = """
    SELECT c.series_id, _prom_catalog.timestamptz_to_us(c.chunk_start) AS bucket, c.times, c.vals
    FROM prom_data.compressed_sample c
    WHERE c.series_id = ANY ($1) AND c.chunk_start = ANY (ARRAY(SELECT {ts} FROM unnest($2::int8[]) AS b))
""".format(ts=_TS.format("b"))

# Replace rows: the caller's bucket locks keep anyone else from writing them meanwhile
# (the partitioned parent has no unique index for ON CONFLICT; see 300-cold-tier.sql).
_DELETE_SQL = """
    DELETE FROM prom_data.compressed_sample c
    USING unnest($1::int8[], $2::int8[]) AS k(s, b)
    WHERE c.series_id = k.s AND c.chunk_start = {b}
""".format(b=_TS.format("k.b"))

_INSERT_SQL = """
    INSERT INTO prom_data.compressed_sample (series_id, chunk_start, min_time, max_time, count, times, vals)
    SELECT u.s, {b}, {lo}, {hi}, u.n, u.t, u.v
    FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int4[], $6::bytea[], $7::bytea[])
         AS u(s, b, lo, hi, n, t, v)
""".format(b=_TS.format("u.b"), lo=_TS.format("u.lo"), hi=_TS.format("u.hi"))


def _plans(plpy: Any) -> dict[str, Any]:
    return {
        "existing": plpy.prepare(_EXISTING_SQL, ["int8[]", "int8[]"]),
        "ensure": plpy.prepare("SELECT _prom_catalog.ensure_compressed_partitions(ARRAY(SELECT {} FROM unnest($1::int8[]) AS b))"
                               .format(_TS.format("b")), ["int8[]"]),
        "delete": plpy.prepare(_DELETE_SQL, ["int8[]", "int8[]"]),
        "insert": plpy.prepare(_INSERT_SQL, ["int8[]", "int8[]", "int8[]", "int8[]", "int4[]", "bytea[]", "bytea[]"]),
    }


def compress_chunks(plpy: Any, table_names: list[str], bucket_interval_us: int) -> dict[str, int]:
    """Moves every visible row of the head partitions ``table_names`` into compressed rows;
    returns counts of samples moved, rows written and samples stored in those rows."""
    plans = _plans(plpy)
    stats = {"moved": 0, "rows": 0, "stored": 0}
    cursor = plpy.cursor(_move_sql(plpy, table_names))
    while True:
        batch = cursor.fetch(FETCH_SERIES)
        if not batch:
            break
        _compress_batch(plpy, plans, batch, bucket_interval_us, stats)
    return stats


def _compress_batch(plpy: Any, plans: dict[str, Any], batch: Any, bucket_interval_us: int,
                    stats: dict[str, int]) -> None:
    fresh: dict[tuple[int, int], SampleArrays] = {}
    for row in batch:
        times = big_endian_times(row["times"])
        values = big_endian_values(row["vals"])
        stats["moved"] += len(times)
        buckets = bucket_starts(times, bucket_interval_us)
        for bucket in np.unique(buckets).tolist():
            mask = buckets == bucket
            fresh[(row["series_id"], bucket)] = SampleArrays(times[mask], values[mask])
    series_ids = sorted({key[0] for key in fresh})
    bucket_list = sorted({key[1] for key in fresh})
    stored: dict[tuple[int, int], SampleArrays] = {}
    for row in plpy.execute(plans["existing"], [series_ids, bucket_list]):
        key = (row["series_id"], row["bucket"])
        if key in fresh:
            stored[key] = SampleArrays(decode_times(row["times"]), decode_values(row["vals"]))
    plpy.execute(plans["ensure"], [bucket_list])
    columns: tuple[list, ...] = ([], [], [], [], [], [], [])
    for (series_id, bucket), samples in fresh.items():
        parts = [stored[(series_id, bucket)], samples] if (series_id, bucket) in stored else [samples]
        merged = merge_samples(parts)
        for column, value in zip(columns, (series_id, bucket, int(merged.times[0]), int(merged.times[-1]),
                                           len(merged), encode_times(merged.times), encode_values(merged.values))):
            column.append(value)
        stats["rows"] += 1
        stats["stored"] += len(merged)
    stored_keys = list(stored)
    if stored_keys:
        plpy.execute(plans["delete"], [[k[0] for k in stored_keys], [k[1] for k in stored_keys]])
    plpy.execute(plans["insert"], list(columns))
