"""Deleted samples out of the rollups (``prom_api.delete_series``, lifecycle/delete.py).

After the raw samples of [start, end] are deleted, in the same transaction: every stored window
that lies wholly inside the range goes; the (at most two per series and resolution) windows that
hold the range's ends and samples outside it are computed again from the raw samples that
remain, read around those ends only, so a deletion of a whole series' history reads no raw
samples at all. A row left without windows is deleted. Windows maintenance has not computed yet
are not touched: it computes them later from the samples that remain.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import PERIOD_S, RESOLUTIONS_S
from .rows import decode_row, encode_row, merge
from .windows import Windows, compute_windows

_LOCK = "SELECT pg_catalog.pg_advisory_xact_lock(1886547840, 0)"  # the maintenance step's (326-rollups.sql)
_TS = "_prom_catalog.timestamptz_from_us({})"
_ROWS = """
    SELECT r.resolution_s, r.series_id, _prom_catalog.timestamptz_to_us(r.chunk_start) AS key, r.block,
           r.times, r.first_times, r.last_times, r.counts, r.sums, r.mins, r.maxs, r.firsts, r.lasts, r.increases
    FROM prom_data.rollup r
    WHERE r.resolution_s = $4 AND r.series_id = ANY ($1)
      AND r.chunk_start > {lo} - $5 * interval '1 second' AND r.chunk_start <= {hi}
""".format(lo=_TS.format("$2"), hi=_TS.format("$3"))
_DELETE = """
    DELETE FROM prom_data.rollup r USING unnest($1::int4[], $2::int8[], $3::int8[]) AS k(res, s, b)
    WHERE r.resolution_s = k.res AND r.series_id = k.s AND r.chunk_start = {b}
""".format(b=_TS.format("k.b"))
_UPDATE = """
    UPDATE prom_data.rollup r
    SET count = u.n, block = u.block, times = NULL, first_times = NULL, last_times = NULL, counts = NULL,
        sums = NULL, mins = NULL, maxs = NULL, firsts = NULL, lasts = NULL, increases = NULL
    FROM unnest($1::int4[], $2::int8[], $3::int8[], $4::int4[], $5::bytea[]) AS u(res, s, b, n, block)
    WHERE r.resolution_s = u.res AND r.series_id = u.s AND r.chunk_start = {b}
""".format(b=_TS.format("u.b"))


def remove_deleted(plpy: Any, plans: dict, series_ids: list[int], start_us: int, end_us: int) -> int:
    """Updates the rollups of ``series_ids`` after their samples in [start_us, end_us] were
    deleted; returns the rollup rows changed or deleted."""
    if "rollup_delete_rows" not in plans:
        plans["rollup_delete_rows"] = plpy.prepare(_ROWS, ["int8[]", "int8", "int8", "int4", "int4"])
        plans["rollup_delete"] = plpy.prepare(_DELETE, ["int4[]", "int8[]", "int8[]"])
        plans["rollup_update"] = plpy.prepare(_UPDATE, ["int4[]", "int8[]", "int8[]", "int4[]", "bytea[]"])
    # no maintenance step computes windows from the samples we are deleting meanwhile
    plpy.execute(_LOCK)
    gone: list[tuple] = []
    changed: list[tuple] = []
    for resolution_s in RESOLUTIONS_S:
        rows = plpy.execute(plans["rollup_delete_rows"], [series_ids, start_us, end_us, resolution_s,
                                                          PERIOD_S[resolution_s]])
        if len(rows):
            fresh = _boundary_windows(plpy, plans, series_ids, start_us, end_us, resolution_s)
            _cut_rows(rows, fresh, start_us, end_us, gone, changed)
    if gone:
        plpy.execute(plans["rollup_delete"], [list(c) for c in zip(*gone)])
    if changed:
        plpy.execute(plans["rollup_update"], [list(c) for c in zip(*changed)])
    return len(gone) + len(changed)


def _cut_rows(rows, fresh: dict, start_us: int, end_us: int, gone: list, changed: list) -> None:
    """The new content of each stored row: ``changed`` gets (resolution, series, period, count,
    block), ``gone`` the keys of rows left empty."""
    for row in rows:
        res_us = row["resolution_s"] * 1_000_000
        sid = row["series_id"]
        stored = decode_row(row, sid)
        # windows (end - res, end] meeting [start, end]: recomputed if they reach outside it
        touched = (stored.ends >= start_us) & (stored.ends - res_us < end_us)
        if not touched.any():
            continue
        inside = touched & (stored.ends - res_us + 1 >= start_us) & (stored.ends <= end_us)
        edge = touched & ~inside
        kept = stored.take(~touched)
        redo = fresh.get(sid)
        if edge.any() and redo is not None:
            # the recomputed windows end where touched ones did: none has the end of a kept one
            kept = merge(kept, redo.take(np.isin(redo.ends, stored.ends[edge])))
        key = (row["resolution_s"], sid, row["key"])
        if len(kept):
            changed.append((*key, len(kept), encode_row(kept)))
        else:
            gone.append(key)


def _boundary_windows(plpy: Any, plans: dict, series_ids: list[int], start_us: int, end_us: int,
                      resolution_s: int) -> dict[int, Windows]:
    """{series id: windows} of the windows holding start_us and end_us, from the raw samples
    that remain (windows ending at or after start and starting before end)."""
    from ..lifecycle.read import read_samples_flat

    res_us = resolution_s * 1_000_000
    out: dict[int, list[Windows]] = {}
    for at in sorted({start_us, end_us}):
        if abs(at) >= 1 << 62:  # an unbounded end: no window holds it
            continue
        end = -((-at) // res_us) * res_us  # the window (end - res, end] holding at
        sids, times, values = read_samples_flat(plpy, plans, series_ids, end - res_us + 1, end)
        w = compute_windows(sids, times, values, res_us)
        if not len(w):
            continue
        cuts = np.flatnonzero(np.r_[True, w.series_ids[1:] != w.series_ids[:-1], True])
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            out.setdefault(int(w.series_ids[a]), []).append(w.take(slice(a, b)))
    return {sid: ws[0] if len(ws) == 1 else Windows.concat(ws) for sid, ws in out.items()}
