"""Read compressed rows back as per-series arrays for ``prom_api.get_samples``.

One query fetches every row overlapping the range for all requested series;
each row decodes with a few NumPy calls. Rows of one series normally cover
disjoint buckets and come in bucket order, so they are concatenated; only
overlapping rows (bucket length changed) go through the merge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import SampleArrays, decode_times, decode_values, merge_samples

_ROWS_SQL = """
    SELECT c.series_id, c.times, c.vals
    FROM prom_data.compressed_sample c
    WHERE c.series_id = ANY ($1)
      AND c.chunk_start > $2::timestamptz - _prom_catalog.get_compressed_row_span_max()
      AND c.chunk_start <= $3::timestamptz
      AND c.max_time >= $2::timestamptz AND c.min_time <= $3::timestamptz
    ORDER BY c.series_id, c.chunk_start
"""


def compressed_samples(plpy: Any, plans: dict, series_ids: list[int], start: str, end: str,
                       start_us: int, end_us: int) -> list[tuple[int, list[int], list[int]]]:
    """(series_id, times in µs since 2000, value bits as int64) per series with compressed samples
    in [start, end]. Bits, not floats: PL/Python returns floats as text, losing NaN payloads."""
    if "rows" not in plans:
        plans["rows"] = plpy.prepare(_ROWS_SQL, ["int8[]", "timestamptz", "timestamptz"])
    rows = plpy.execute(plans["rows"], [series_ids, start, end])
    out: list[tuple[int, list[int], list[int]]] = []
    current: int | None = None
    parts: list[SampleArrays] = []
    for row in rows:
        if row["series_id"] != current:
            _flush(out, current, parts, start_us, end_us)
            current, parts = row["series_id"], []
        parts.append(SampleArrays(decode_times(row["times"]), decode_values(row["vals"])))
    _flush(out, current, parts, start_us, end_us)
    return out


def _flush(out: list, series_id: int | None, parts: list[SampleArrays], start_us: int, end_us: int) -> None:
    if series_id is None or not parts:
        return
    if len(parts) == 1:
        samples = parts[0]
    elif all(parts[i].times[-1] < parts[i + 1].times[0] for i in range(len(parts) - 1)):
        samples = SampleArrays(np.concatenate([p.times for p in parts]), np.concatenate([p.values for p in parts]))
    else:
        samples = merge_samples(parts)
    lo = int(np.searchsorted(samples.times, start_us, side="left"))
    hi = int(np.searchsorted(samples.times, end_us, side="right"))
    if hi > lo:
        out.append((series_id, samples.times[lo:hi].tolist(), samples.values[lo:hi].view(np.int64).tolist()))


# --- the read path for Python callers (the PromQL engine runs in PL/Python) ---

# "= ANY" is an index condition on each head partition's series_id btree: k series cost k
# index descents per partition in the range, whatever else the partitions hold
_HEAD_SQL = """
    SELECT h.series_id,
           string_agg(pg_catalog.timestamptz_send(h.time), ''::bytea) AS times,
           string_agg(pg_catalog.float8send(h.value), ''::bytea) AS vals
    FROM prom_data.sample h
    WHERE h.series_id = ANY ($1::int8[])
      AND h.time >= _prom_catalog.timestamptz_from_us($2) AND h.time <= _prom_catalog.timestamptz_from_us($3)
    GROUP BY h.series_id
"""


def read_samples(plpy: Any, plans: dict, series_ids: list[int], start_us: int, end_us: int) -> dict[int, SampleArrays]:
    """What ``prom_api.get_samples`` returns, as NumPy arrays and without converting a single
    value to SQL and back: {series_id: SampleArrays(times in µs since 2000, float64 values)},
    time-ordered, deduplicated exactly like the SQL function (same merge of head and
    compressed rows, same value kept on duplicate times), bit-exact."""
    from .buckets import big_endian_times, big_endian_values

    if "head" not in plans:
        plans["head"] = plpy.prepare(_HEAD_SQL, ["int8[]", "int8", "int8"])
    if "rows_us" not in plans:
        plans["rows_us"] = plpy.prepare(
            _ROWS_SQL.replace("$2::timestamptz", "_prom_catalog.timestamptz_from_us($2)")
                     .replace("$3::timestamptz", "_prom_catalog.timestamptz_from_us($3)"),
            ["int8[]", "int8", "int8"])
    out: dict[int, SampleArrays] = {}
    current: int | None = None
    parts: list[SampleArrays] = []
    cold: list[tuple[int, list[SampleArrays]]] = []
    for row in plpy.execute(plans["rows_us"], [series_ids, start_us, end_us]):
        if row["series_id"] != current:
            if current is not None:
                cold.append((current, parts))
            current, parts = row["series_id"], []
        parts.append(SampleArrays(decode_times(row["times"]), decode_values(row["vals"])))
    if current is not None:
        cold.append((current, parts))
    for series_id, series_parts in cold:
        merged = merge_samples(series_parts) if len(series_parts) > 1 else series_parts[0]
        lo = int(np.searchsorted(merged.times, start_us, side="left"))
        hi = int(np.searchsorted(merged.times, end_us, side="right"))
        if hi > lo:
            out[series_id] = SampleArrays(merged.times[lo:hi], merged.values[lo:hi])
    for row in plpy.execute(plans["head"], [series_ids, start_us, end_us]):
        head = SampleArrays(big_endian_times(row["times"]), big_endian_values(row["vals"]))
        stored = out.get(row["series_id"])
        out[row["series_id"]] = merge_samples([stored, head] if stored is not None else [head])
    return out
