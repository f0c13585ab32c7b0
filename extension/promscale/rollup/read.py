"""Stored rollups back as the pseudo-samples the PromQL engine evaluates (docs/rollups.md).

Each aggregate becomes a series of (time ms, value) the engine's own functions evaluate:

* ``counter``: at every window's first and last sample time, the counter value with resets
  adjusted (PromQL's counter correction): rate/increase over it equal those over the raw samples;
* ``edges``: the raw first and last values at their times (delta);
* ``sums``, ``counts``, ``mins``, ``maxs``: one point per window, 1 ms before its end, so that a
  range [t - r, t] on the window grid takes exactly the windows inside it;
* ``lasts``: the last value at its time (plain selectors and the other functions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import decode_times
from . import PERIOD_S
from .rows import decode_value_columns

PG_EPOCH_MS = 946684800000  # 2000-01-01 in Unix milliseconds

_COLUMNS = {
    "counter": ("first_times", "last_times", "firsts", "lasts", "increases", "counts"),
    "edges": ("first_times", "last_times", "firsts", "lasts", "counts"),
    "lasts": ("last_times", "lasts"),
    "sums": ("sums",), "counts": ("counts",),
    # an empty mins/maxs column is implied by firsts/lasts (rows.py)
    "mins": ("mins", "firsts"), "maxs": ("maxs", "lasts"),
}
_TIME_COLUMNS = {"times", "first_times", "last_times"}

_ROWS_SQL = """
    SELECT r.series_id, r.times, {columns}
    FROM prom_data.rollup r
    WHERE r.resolution_s = $1 AND r.series_id = ANY ($2::int8[])
      AND r.chunk_start > _prom_catalog.timestamptz_from_us($3) - $5 * interval '1 second'
      AND r.chunk_start <= _prom_catalog.timestamptz_from_us($4)
    ORDER BY r.series_id, r.chunk_start
"""


def read_rollups(plpy: Any, plans: dict, resolution_s: int, aggregate: str, series_ids: list[int],
                 mint_ms: int, maxt_ms: int) -> dict[int, tuple]:
    """{series id: (times ms, values)} of the pseudo-samples of ``aggregate`` for the windows
    overlapping [mint, maxt]; ``counter`` and ``edges`` add a third item, {"raw": the raw
    value of each point, "n": raw samples up to it}, which rate's extrapolation needs."""
    columns = _COLUMNS[aggregate]
    key = ("rollup_rows", aggregate)
    if key not in plans:
        plans[key] = plpy.prepare(_ROWS_SQL.format(columns=", ".join(f"r.{c}" for c in columns)),
                                  ["int4", "int8[]", "int8", "int8", "int4"])
    res_us = resolution_s * 1_000_000
    lo_us, hi_us = (mint_ms - PG_EPOCH_MS) * 1000, (maxt_ms - PG_EPOCH_MS) * 1000
    rows = plpy.execute(plans[key], [resolution_s, series_ids, lo_us, hi_us + res_us, PERIOD_S[resolution_s]])
    parts: dict[int, list[dict]] = {}
    for row in rows:
        ends = decode_times(row["times"])
        keep = (ends >= lo_us) & (ends - res_us <= hi_us)
        if not keep.any():
            continue
        times = {c: decode_times(row[c])[keep] for c in columns if c in _TIME_COLUMNS}
        values = decode_value_columns(row, [c for c in columns if c not in _TIME_COLUMNS])
        cols = {**times, **{c: v[keep] for c, v in values.items()}}
        cols["ends"] = ends[keep]
        parts.setdefault(row["series_id"], []).append(cols)
    return {sid: _pseudo(aggregate, {c: np.concatenate([p[c] for p in ps]) for c in ps[0]})
            for sid, ps in parts.items()}


def _ms(us: np.ndarray) -> np.ndarray:
    return us // 1000 + PG_EPOCH_MS


def _pseudo(aggregate: str, w: dict) -> tuple:
    if aggregate in ("sums", "counts", "mins", "maxs"):
        return _ms(w["ends"]) - 1, w[aggregate]
    if aggregate == "lasts":
        return _ms(w["last_times"]), w["lasts"]
    firsts, lasts = w["firsts"], w["lasts"]
    raw_firsts, raw_lasts = firsts, lasts
    if aggregate == "counter":
        # the counter correction before each window's first sample: the increase from the
        # previous window's last sample (a drop counts the new value) accumulated
        gap = np.zeros(len(firsts))
        if len(firsts) > 1:
            prev, cur = lasts[:-1], firsts[1:]
            gap[1:] = np.where(cur < prev, cur, cur - prev)
        start = firsts[0] + np.cumsum(gap + np.r_[0.0, w["increases"][:-1]])
        start[0] = firsts[0]
        firsts, lasts = start, start + w["increases"]
    # per point: its raw value, and how many raw samples precede it or are it (rate's
    # extrapolation counts samples: Prometheus's average interval between them)
    counts = np.cumsum(w["counts"])
    t = np.empty(2 * len(firsts), dtype=np.int64)
    v = np.empty(2 * len(firsts))
    raw = np.empty(2 * len(firsts))
    n = np.empty(2 * len(firsts), dtype=np.int64)
    t[0::2], t[1::2] = _ms(w["first_times"]), _ms(w["last_times"])
    v[0::2], v[1::2] = firsts, lasts
    raw[0::2], raw[1::2] = raw_firsts, raw_lasts
    n[0::2], n[1::2] = counts - w["counts"] + 1, counts
    single = np.r_[False, t[1:] == t[:-1]]  # a one-sample window: one point
    if single.any():
        t, v, raw, n = t[~single], v[~single], raw[~single], n[~single]
    return t, v, {"raw": raw, "n": n}
