"""Read compressed rows back as per-series arrays for ``prom_api.get_samples``.

One query fetches every row overlapping the range for all requested series;
each row decodes with a few NumPy calls. Rows of one series normally cover
disjoint buckets and come in bucket order, so they are concatenated; only
overlapping rows (bucket length changed) go through the merge.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..codec import SampleArrays, decode_times, decode_values, merge_samples, raw_times_payload, raw_values_payload

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

# Two plans for the head's share of a read. "= ANY" is an index condition on each head
# partition's series_id btree: k series cost k index descents per partition in the range plus a
# random heap page per sample, whatever else the partitions hold. When the series asked are a
# large share of all series, one pass over the range's rows costs less: a semi-join on
# "series_id + 0" (an expression no index serves) makes the plan a scan whatever the estimates.
# Either way the rows come back as one row of concatenated binary columns, not a row per
# series: PL/Python builds a Python object per row and field, which cost ~5 us per series (and
# no GROUP BY: grouping sorted every row of the read). A column holds 8 bytes per sample, so
# the engine's sample limit (50,000,000) keeps it below PostgreSQL's 1 GB per value.
_HEAD_COLUMNS = """
    SELECT string_agg(pg_catalog.int8send(h.series_id), ''::bytea) AS ids,
           string_agg(pg_catalog.timestamptz_send(h.time), ''::bytea) AS times,
           string_agg(pg_catalog.float8send(h.value), ''::bytea) AS vals
    FROM prom_data.sample h
"""
_HEAD_SQL = _HEAD_COLUMNS + """
    WHERE h.series_id = ANY ($1::int8[])
      AND h.time >= _prom_catalog.timestamptz_from_us($2) AND h.time <= _prom_catalog.timestamptz_from_us($3)
"""
_HEAD_SCAN_SQL = _HEAD_COLUMNS + """
    WHERE h.series_id + 0 IN (SELECT unnest($1::int8[]))
      AND h.time >= _prom_catalog.timestamptz_from_us($2) AND h.time <= _prom_catalog.timestamptz_from_us($3)
"""
# share of all series above which a read scans the head's range instead of probing per series
# (a random page per sample costs ~10x a row of a scan)
SCAN_SHARE = 0.1
_SERIES_COUNT_SQL = "SELECT greatest(c.reltuples, 0)::int8 AS n FROM pg_catalog.pg_class c " \
                    "WHERE c.oid = '_prom_catalog.series'::pg_catalog.regclass"
_SERIES_COUNT_TTL_S = 60.0


def _series_count(plpy: Any, plans: dict) -> int:
    """The planner's estimate of how many series are stored, refreshed once a minute."""
    cached = plans.get("series_count")
    now = time.monotonic()
    if cached is None or now - cached[1] > _SERIES_COUNT_TTL_S:
        if "series_count_plan" not in plans:
            plans["series_count_plan"] = plpy.prepare(_SERIES_COUNT_SQL)
        rows = plpy.execute(plans["series_count_plan"])
        cached = plans["series_count"] = (int(rows[0]["n"]) if rows else 0, now)
    return cached[0]


def _head_plan(plpy: Any, plans: dict, k: int) -> Any:
    scan = k > SCAN_SHARE * _series_count(plpy, plans)
    key = "head_scan" if scan else "head"
    if key not in plans:
        plans[key] = plpy.prepare(_HEAD_SCAN_SQL if scan else _HEAD_SQL, ["int8[]", "int8", "int8"])
    return plans[key]


def read_samples(plpy: Any, plans: dict, series_ids: list[int], start_us: int, end_us: int) -> dict[int, SampleArrays]:
    """What ``prom_api.get_samples`` returns, as NumPy arrays and without converting a single
    value to SQL and back: {series_id: SampleArrays(times in µs since 2000, float64 values)},
    time-ordered, deduplicated exactly like the SQL function (same merge of head and
    compressed rows, same value kept on duplicate times), bit-exact."""
    return split_series(*read_samples_flat(plpy, plans, series_ids, start_us, end_us))


def read_samples_flat(plpy: Any, plans: dict, series_ids: list[int], start_us: int,
                      end_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same samples as flat arrays (series id, time, value), ordered by (series id, time):
    all series are handled together, one sort and one deduplication for the whole read when
    the parts are not already in order, so the cost per series is a slice, not a sort."""
    from .buckets import big_endian_times, big_endian_values

    if "rows_us" not in plans:
        plans["rows_us"] = plpy.prepare(
            _ROWS_SQL.replace("$2::timestamptz", "_prom_catalog.timestamptz_from_us($2)")
                     .replace("$3::timestamptz", "_prom_catalog.timestamptz_from_us($3)"),
            ["int8[]", "int8", "int8"])
    ids: list[np.ndarray] = []
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    # compressed rows come ordered by (series_id, chunk_start): each decodes to a sorted run.
    # Flushed (level-1) rows hold their samples as they are (RAW): their bytes are joined and
    # converted together, a few NumPy calls for all of them rather than per row.
    raw_ids: list[int] = []
    raw_counts: list[int] = []
    raw_times: list[bytes] = []
    raw_vals: list[bytes] = []
    for row in plpy.execute(plans["rows_us"], [series_ids, start_us, end_us]):
        t_raw, v_raw = raw_times_payload(row["times"]), raw_values_payload(row["vals"])
        if t_raw is not None and v_raw is not None and len(t_raw) == len(v_raw):
            raw_ids.append(row["series_id"])
            raw_counts.append(len(t_raw) // 8)
            raw_times.append(t_raw)
            raw_vals.append(v_raw)
            continue
        t = decode_times(row["times"])
        ids.append(np.full(len(t), row["series_id"], dtype=np.int64))
        times.append(t)
        values.append(decode_values(row["vals"]))
    if raw_ids:
        ids.append(np.repeat(np.asarray(raw_ids, dtype=np.int64), raw_counts))
        times.append(np.frombuffer(b"".join(raw_times), dtype=">i8").astype(np.int64))
        values.append(np.frombuffer(b"".join(raw_vals), dtype=">u8").astype(np.uint64).view(np.float64))
    for row in plpy.execute(_head_plan(plpy, plans, len(series_ids)), [series_ids, start_us, end_us]):
        if row["ids"] is None:  # no head rows
            continue
        ids.append(np.frombuffer(row["ids"], dtype=">i8").astype(np.int64))
        times.append(big_endian_times(row["times"]))
        values.append(big_endian_values(row["vals"]))
    if not ids:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    return sorted_unique(np.concatenate(ids), np.concatenate(times), np.concatenate(values), start_us, end_us)


def sorted_unique(ids: np.ndarray, times: np.ndarray, values: np.ndarray,
                  start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples within [start_us, end_us], ordered by (series id, time), one per (series id,
    time): the one that sorts first in PostgreSQL's float8 order (NaN last), as dedup_sorted."""
    inside = (times >= start_us) & (times <= end_us)
    if not inside.all():
        ids, times, values = ids[inside], times[inside], values[inside]
    if len(ids) > 1 and not _strictly_ordered(ids, times):
        # head rows of many series interleave, but each series' rows come in time order: a
        # stable sort on the series id alone nearly always finishes the job
        order = np.argsort(ids, kind="stable")
        ids, times, values = ids[order], times[order], values[order]
        if not _strictly_ordered(ids, times):  # late or duplicate samples: the full order
            nan = np.isnan(values)
            order = np.lexsort((np.where(nan, 0.0, values), nan, times, ids))
            ids, times, values = ids[order], times[order], values[order]
            keep = np.empty(len(ids), dtype=bool)
            keep[0] = True
            np.logical_or(ids[1:] != ids[:-1], times[1:] != times[:-1], out=keep[1:])
            if not keep.all():
                ids, times, values = ids[keep], times[keep], values[keep]
    return ids, times, values


def _strictly_ordered(ids: np.ndarray, times: np.ndarray) -> bool:
    return bool(((ids[1:] > ids[:-1]) | ((ids[1:] == ids[:-1]) & (times[1:] > times[:-1]))).all())


def series_bounds(ids: np.ndarray) -> dict[int, tuple[int, int]]:
    """{series id: (start, end) of its samples} in arrays ordered by series id."""
    if not len(ids):
        return {}
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    return dict(zip(ids[starts].tolist(), zip(starts.tolist(), ends.tolist())))


def split_series(ids: np.ndarray, times: np.ndarray, values: np.ndarray) -> dict[int, SampleArrays]:
    """{series id: its samples} from arrays ordered by series id (slices, no copies)."""
    return {sid: SampleArrays(times[a:b], values[a:b]) for sid, (a, b) in series_bounds(ids).items()}
