"""Stored rollups back as the pseudo-samples the PromQL engine evaluates (docs/rollups.md).

Each aggregate becomes a series of (time ms, value) the engine's own functions evaluate:

* ``counter``: at every window's first and last sample time, the counter value with resets
  adjusted (PromQL's counter correction): rate/increase over it equal those over the raw samples;
* ``edges``: the raw first and last values at their times (delta);
* ``sums``, ``counts``, ``mins``, ``maxs``: one point per window, 1 ms before its end, so that a
  range [t - r, t] on the window grid takes exactly the windows inside it;
* ``lasts``: the last value at its time (plain selectors and the other functions).

Every step works on all series at once: rows are decoded together (block.decode_blocks), their
windows laid end to end in flat arrays with a series index, and the pseudo-samples computed
with running sums that restart at each series. A dashboard's query reads thousands of rows; per
row it costs a decompression, per series a few array slices.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from ..codec import decode_times
from ..promql import kernels
from . import PERIOD_S
from .block import decode_blocks
from .rows import decode_value_columns

PG_EPOCH_MS = 946684800000  # 2000-01-01 in Unix milliseconds

_COLUMNS = {
    "counter": ("first_times", "last_times", "firsts", "lasts", "increases", "counts"),
    "edges": ("first_times", "last_times", "firsts", "lasts", "counts"),
    "lasts": ("last_times", "lasts"),
    "sums": ("sums",), "counts": ("counts",),
    "mins": ("mins",), "maxs": ("maxs",),
}
# the stored columns of rows written before blocks (rows.py): an empty mins/maxs column is
# implied by firsts/lasts
_OLD_COLUMNS = {"mins": ("mins", "firsts"), "maxs": ("maxs", "lasts")}
_TIME_COLUMNS = {"ends", "first_times", "last_times"}

_ROWS_SQL = """
    SELECT r.series_id, r.block, {columns}
    FROM prom_data.rollup r
    WHERE r.resolution_s = $1 AND r.series_id = ANY ($2::int8[])
      AND r.chunk_start > _prom_catalog.timestamptz_from_us($3) - $5 * interval '1 second'
      AND r.chunk_start <= _prom_catalog.timestamptz_from_us($4)
    ORDER BY r.series_id, r.chunk_start
"""

# Decoded rows kept for the session, keyed by the block's bytes (so a row that maintenance or
# delete_series rewrote is never served stale) and the columns asked: a dashboard refreshing
# a long range decodes each closed period once. Bounded by the arrays' bytes, oldest first out.
# A row's arrays are views of its decoding group's (block.decode_blocks): a group stays until
# its last row goes, so the memory held can pass the bound by the groups partly evicted. Only
# blocks the caller's own statement fetched are looked up: no row crosses to another role.
CACHE_BYTES = 80 << 20


class _DecodedCache:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self.rows: OrderedDict = OrderedDict()

    def get(self, key):
        return self.rows.get(key)

    def put(self, key, cols: dict) -> None:
        size = sum(a.nbytes for a in cols.values()) + len(key[1])
        if size > self.limit:
            return
        self.rows[key] = cols
        self.bytes += size
        while self.bytes > self.limit:
            (_, old_block), old = self.rows.popitem(last=False)
            self.bytes -= sum(a.nbytes for a in old.values()) + len(old_block)


def _cache(session: dict) -> _DecodedCache:
    cache = session.get("rollup_decoded")
    if cache is None:
        cache = session["rollup_decoded"] = _DecodedCache(CACHE_BYTES)
    return cache


def read_rollups(plpy: Any, plans: dict, resolution_s: int, aggregate: str, series_ids: list[int],
                 mint_ms: int, maxt_ms: int, session: dict | None = None) -> dict[int, tuple]:
    """{series id: (times ms, values)} of the pseudo-samples of ``aggregate`` in [mint, maxt]
    (from the windows overlapping it); ``counter`` and ``edges`` add a third item, {"raw": the
    raw value of each point, "n": raw samples up to it}, which rate's extrapolation needs."""
    columns = _COLUMNS[aggregate]
    old_columns = _OLD_COLUMNS.get(aggregate, columns)
    key = ("rollup_rows", aggregate)
    if key not in plans:
        plans[key] = plpy.prepare(_ROWS_SQL.format(columns=", ".join(f"r.{c}" for c in ("times",) + old_columns)),
                                  ["int4", "int8[]", "int8", "int8", "int4"])
    res_us = resolution_s * 1_000_000
    lo_us, hi_us = (mint_ms - PG_EPOCH_MS) * 1000, (maxt_ms - PG_EPOCH_MS) * 1000
    rows = plpy.execute(plans[key], [resolution_s, series_ids, lo_us, hi_us + res_us, PERIOD_S[resolution_s]])
    if not len(rows):
        return {}
    names = ("ends",) + columns
    cache = _cache(session if session is not None else {})
    decoded: list = [None] * len(rows)
    missing = []
    for i, row in enumerate(rows):
        block = row["block"]
        if block is None:
            decoded[i] = _old_row(row, columns)
            continue
        hit = cache.get((names, block))
        if hit is None:
            missing.append(i)
        else:
            decoded[i] = hit
    if missing:
        for i, cols in zip(missing, decode_blocks([rows[i]["block"] for i in missing], names)):
            decoded[i] = cols
            cache.put((names, rows[i]["block"]), cols)
    lengths = np.fromiter((len(d["ends"]) for d in decoded), dtype=np.int64, count=len(decoded))
    row_sids = np.fromiter((row["series_id"] for row in rows), dtype=np.int64, count=len(decoded))
    w = {c: np.concatenate([d[c] for d in decoded]) for c in names}
    sids = np.repeat(row_sids, lengths)
    keep = (w["ends"] >= lo_us) & (w["ends"] - res_us <= hi_us)
    if not keep.all():
        w = {c: a[keep] for c, a in w.items()}
        sids = sids[keep]
    if not len(sids):
        return {}
    # the points inside [mint, maxt] (a window overlapping the range can hold points outside it)
    if aggregate in ("counter", "edges") and kernels.loaded():
        t, v, extra, point_sids = kernels.rollup_points(aggregate == "counter", sids, w["first_times"],
                                                        w["last_times"], w["firsts"], w["lasts"], w.get("increases"),
                                                        w["counts"], mint_ms, maxt_ms)
    else:
        t, v, extra, point_sids = _pseudo(aggregate, w, sids)
        inside = (t >= mint_ms) & (t <= maxt_ms)
        if not inside.all():
            t, v, point_sids = t[inside], v[inside], point_sids[inside]
            extra = {k: a[inside] for k, a in extra.items()}
    if not len(t):
        return {}
    cuts = np.flatnonzero(np.r_[True, point_sids[1:] != point_sids[:-1], True])
    out = {}
    for a, b, sid in zip(cuts[:-1].tolist(), cuts[1:].tolist(), point_sids[cuts[:-1]].tolist()):
        if extra:
            out[sid] = (t[a:b], v[a:b], {k: x[a:b] for k, x in extra.items()})
        else:
            out[sid] = (t[a:b], v[a:b])
    return out


def _old_row(row: dict, columns) -> dict:
    """The columns of a row written before blocks (one encoded column per aggregate)."""
    cols = {"ends": decode_times(row["times"])}
    for c in columns:
        if c in _TIME_COLUMNS:
            cols[c] = decode_times(row[c])
    cols.update(decode_value_columns(row, [c for c in columns if c not in _TIME_COLUMNS]))
    return cols


def _ms(us: np.ndarray) -> np.ndarray:
    return us // 1000 + PG_EPOCH_MS


def _pseudo(aggregate: str, w: dict, sids: np.ndarray) -> tuple:
    """(times ms, values, extra arrays, series id per point) of windows ``w`` laid end to end,
    ordered by (series, end); ``sids`` is each window's series."""
    if aggregate in ("sums", "counts", "mins", "maxs"):
        return _ms(w["ends"]) - 1, w[aggregate], {}, sids
    if aggregate == "lasts":
        return _ms(w["last_times"]), w["lasts"], {}, sids
    firsts, lasts = w["firsts"], w["lasts"]
    raw_firsts, raw_lasts = firsts, lasts
    # a series' first window: running sums restart there
    starts = np.r_[True, sids[1:] != sids[:-1]]
    run = _Runs(starts)
    if aggregate == "counter":
        # the counter correction before each window's first sample: the increase from the
        # previous window's last sample (a drop counts the new value) plus the previous
        # windows' own increases, accumulated per series
        gap = np.zeros(len(firsts))
        prev, cur = lasts[:-1], firsts[1:]
        gap[1:] = np.where(cur < prev, cur, cur - prev)
        step = gap + np.r_[0.0, w["increases"][:-1]]
        step[starts] = 0.0
        start = run.first(firsts) + run.cumsum(step)
        start[starts] = firsts[starts]
        firsts, lasts = start, start + w["increases"]
    # per point: its raw value, and how many raw samples precede it or are it (rate's
    # extrapolation counts samples: Prometheus's average interval between them)
    counts = run.cumsum(w["counts"])
    m = len(firsts)
    t = np.empty(2 * m, dtype=np.int64)
    v = np.empty(2 * m)
    raw = np.empty(2 * m)
    n = np.empty(2 * m, dtype=np.int64)
    point_sids = np.repeat(sids, 2)
    t[0::2], t[1::2] = _ms(w["first_times"]), _ms(w["last_times"])
    v[0::2], v[1::2] = firsts, lasts
    raw[0::2], raw[1::2] = raw_firsts, raw_lasts
    n[0::2], n[1::2] = counts - w["counts"] + 1, counts
    single = np.zeros(2 * m, dtype=bool)
    single[1::2] = t[1::2] == t[0::2]  # a one-sample window: one point
    if single.any():
        keep = ~single
        t, v, raw, n, point_sids = t[keep], v[keep], raw[keep], n[keep], point_sids[keep]
    return t, v, {"raw": raw, "n": n}, point_sids


class _Runs:
    """Per-series operations on values laid out series by series (``starts`` marks each
    series' first element): as 2-D rows when every series has as many elements (a query's
    usual case: every series has every window), else through a zero-padded matrix."""

    def __init__(self, starts: np.ndarray) -> None:
        self.first_at = np.flatnonzero(starts)
        self.lengths = np.diff(np.r_[self.first_at, len(starts)])
        self.square = bool((self.lengths == self.lengths[0]).all())
        if not self.square:
            self.row = np.repeat(np.arange(len(self.first_at)), self.lengths)
            self.col = np.arange(len(starts)) - np.repeat(self.first_at, self.lengths)

    def first(self, x: np.ndarray) -> np.ndarray:
        """Each element's series' first value."""
        return np.repeat(x[self.first_at], self.lengths)

    def cumsum(self, x: np.ndarray) -> np.ndarray:
        """Running sum restarting at each series, bit for bit each series' own running sum
        (one running sum over all series would carry the others' magnitudes into the rounding)."""
        if self.square:
            return np.cumsum(x.reshape(len(self.first_at), -1), axis=1).reshape(-1)
        grid = np.zeros((len(self.first_at), int(self.lengths.max())), dtype=x.dtype)
        grid[self.row, self.col] = x
        return np.cumsum(grid, axis=1)[self.row, self.col]
