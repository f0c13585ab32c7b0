"""Writing rows of ``prom_data.compressed_sample``, merged with what is stored under the same key.

Two levels (sql/migrations/0007-cold-tier.sql):

* ``write_flushed``: level-1 rows, RAW-encoded (``FlushedRow``), into one level-1
  partition. A row is inserted unless one exists for its (series_id, chunk_start) (a
  range flushed again after late samples); those few are merged with the stored row.
* ``write_compacted``: level-2 rows, fully encoded, one per series per bucket, each
  merged with the level-2 row stored for that bucket (late samples of a compacted bucket).

Callers hold the advisory locks of the buckets they write, so no other session writes
these keys meanwhile. Times are microseconds since 2000-01-01 (``buckets``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..codec import (SampleArrays, decode_times, decode_values, encode_times, encode_times_raw, encode_values,
                     encode_values_raw, merge_samples)

# microseconds since 2000 → timestamptz, exactly
_TS = "_prom_catalog.timestamptz_from_us({})"
_ROW_ARRAYS = "unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int4[], $6::bytea[], $7::bytea[]) AS u(s, b, lo, hi, n, t, v)"
_ROW_TYPES = ["int8[]", "int8[]", "int8[]", "int8[]", "int4[]", "bytea[]", "bytea[]"]
_ROW_VALUES = "u.s, {b}, {lo}, {hi}, u.n, u.t, u.v".format(b=_TS.format("u.b"), lo=_TS.format("u.lo"), hi=_TS.format("u.hi"))

# --- level 1 ---

class FlushedRow(NamedTuple):
    """A level-1 row, already RAW-encoded: times and values time-ordered, deduplicated."""
    series_id: int
    key_us: int    # chunk_start
    min_us: int
    max_us: int
    count: int
    times: bytes
    vals: bytes

    @classmethod
    def of(cls, series_id: int, key_us: int, samples: SampleArrays) -> "FlushedRow":
        return cls(series_id, key_us, int(samples.times[0]), int(samples.times[-1]), len(samples),
                   encode_times_raw(samples.times), encode_values_raw(samples.values))

    def samples(self) -> SampleArrays:
        return SampleArrays(decode_times(self.times), decode_values(self.vals))


_FLUSHED_INSERT = """
    INSERT INTO prom_data.{table} (series_id, chunk_start, min_time, max_time, count, times, vals, level)
    SELECT {values}, 1 FROM {arrays}
    ON CONFLICT (series_id, chunk_start) DO NOTHING
"""
_FLUSHED_STORED = """
    SELECT c.series_id, _prom_catalog.timestamptz_to_us(c.chunk_start) AS key, c.times, c.vals
    FROM prom_data.{table} c
    JOIN unnest($1::int8[], $2::int8[]) AS k(s, b) ON c.series_id = k.s AND c.chunk_start = {b}
"""
_FLUSHED_UPDATE = """
    UPDATE prom_data.{table} c SET min_time = {lo}, max_time = {hi}, count = u.n, times = u.t, vals = u.v
    FROM {arrays}
    WHERE c.series_id = u.s AND c.chunk_start = {b}
"""


def _flushed_plans(plpy: Any, plans: dict, table: str) -> dict[str, Any]:
    key = ("flushed", table)
    if key not in plans:
        name = plpy.quote_ident(table)
        plans[key] = {
            "insert": plpy.prepare(_FLUSHED_INSERT.format(table=name, values=_ROW_VALUES, arrays=_ROW_ARRAYS), _ROW_TYPES),
            "stored": plpy.prepare(_FLUSHED_STORED.format(table=name, b=_TS.format("k.b")), ["int8[]", "int8[]"]),
            "update": plpy.prepare(_FLUSHED_UPDATE.format(table=name, arrays=_ROW_ARRAYS, lo=_TS.format("u.lo"),
                                                          hi=_TS.format("u.hi"), b=_TS.format("u.b")), _ROW_TYPES),
        }
    return plans[key]


def write_flushed(plpy: Any, plans: dict, table: str, rows: list[FlushedRow]) -> int:
    """Inserts level-1 rows into partition ``table``, at most one per (series_id, key_us);
    a row already stored under the same key (a range flushed again after late samples) is
    merged with the new one. Returns the rows written."""
    if not rows:
        return 0
    p = _flushed_plans(plpy, plans, table)
    if plpy.execute(p["insert"], [list(c) for c in zip(*rows)]).nrows() < len(rows):
        # some keys were taken: where the stored row is not the one just tried, merge the two
        stored = {(r["series_id"], r["key"]): r
                  for r in plpy.execute(p["stored"], [[r.series_id for r in rows], [r.key_us for r in rows]])}
        clashes = [(r, stored[(r.series_id, r.key_us)]) for r in rows
                   if (stored[(r.series_id, r.key_us)]["times"], stored[(r.series_id, r.key_us)]["vals"]) != (r.times, r.vals)]
        merged = [FlushedRow.of(r.series_id, r.key_us, merge_samples([
                      SampleArrays(decode_times(old["times"]), decode_values(old["vals"])), r.samples()]))
                  for r, old in clashes]
        if merged:
            plpy.execute(p["update"], [list(c) for c in zip(*merged)])
    return len(rows)


# --- level 2 ---

_COMPACTED_STORED = """
    SELECT c.series_id, _prom_catalog.timestamptz_to_us(c.chunk_start) AS bucket, c.times, c.vals
    FROM prom_data.compressed_sample c
    WHERE c.level = 2 AND c.series_id = ANY ($1)
      AND c.chunk_start = ANY (ARRAY(SELECT {ts} FROM unnest($2::int8[]) AS b))
      AND c.chunk_start >= {ts_lo} AND c.chunk_start <= {ts_hi}
""".format(ts=_TS.format("b"), ts_lo=_TS.format("$3"), ts_hi=_TS.format("$4"))
# replace rows: the caller's bucket locks keep anyone else from writing them meanwhile
# (the partitioned parent has no unique index for ON CONFLICT; see 0007-cold-tier.sql)
_COMPACTED_DELETE = """
    DELETE FROM prom_data.compressed_sample c
    USING unnest($1::int8[], $2::int8[]) AS k(s, b)
    WHERE c.level = 2 AND c.series_id = k.s AND c.chunk_start = {b}
""".format(b=_TS.format("k.b"))
_COMPACTED_INSERT = """
    INSERT INTO prom_data.compressed_sample (series_id, chunk_start, min_time, max_time, count, times, vals, level)
    SELECT {values}, 2 FROM {arrays}
""".format(values=_ROW_VALUES, arrays=_ROW_ARRAYS)


def _compacted_plans(plpy: Any, plans: dict) -> dict[str, Any]:
    if "compacted" not in plans:
        plans["compacted"] = {
            "stored": plpy.prepare(_COMPACTED_STORED, ["int8[]", "int8[]", "int8", "int8"]),
            "ensure": plpy.prepare("SELECT _prom_catalog.ensure_compressed_partitions("
                                   "ARRAY(SELECT {} FROM unnest($1::int8[]) AS b), 2::smallint)".format(_TS.format("b")),
                                   ["int8[]"]),
            "delete": plpy.prepare(_COMPACTED_DELETE, ["int8[]", "int8[]"]),
            "insert": plpy.prepare(_COMPACTED_INSERT, _ROW_TYPES),
        }
    return plans["compacted"]


def write_compacted(plpy: Any, plans: dict, fresh: dict[tuple[int, int], SampleArrays]) -> int:
    """Fully encoded rows (series_id, bucket) → samples (any order, duplicates allowed),
    each merged with the level-2 row stored for its key. Returns the samples stored in them."""
    if not fresh:
        return 0
    p = _compacted_plans(plpy, plans)
    series_ids = sorted({key[0] for key in fresh})
    buckets = sorted({key[1] for key in fresh})
    stored: dict[tuple[int, int], SampleArrays] = {}
    for row in plpy.execute(p["stored"], [series_ids, buckets, buckets[0], buckets[-1]]):
        key = (row["series_id"], row["bucket"])
        if key in fresh:
            stored[key] = SampleArrays(decode_times(row["times"]), decode_values(row["vals"]))
    plpy.execute(p["ensure"], [buckets])
    merged = [(sid, bucket, merge_samples([stored[(sid, bucket)], s] if (sid, bucket) in stored else [s]))
              for (sid, bucket), s in fresh.items()]
    if stored:
        plpy.execute(p["delete"], [[k[0] for k in stored], [k[1] for k in stored]])
    plpy.execute(p["insert"], [list(c) for c in zip(*(
        (sid, bucket, int(s.times[0]), int(s.times[-1]), len(s), encode_times(s.times), encode_values(s.values))
        for sid, bucket, s in merged))])
    return sum(len(m[2]) for m in merged)
