"""Rows of ``prom_data.rollup``: one per series, resolution and period, the windows of all
aggregates in one compressed block (block.py). Rows written before blocks hold a column per
aggregate, encoded with the compressed rows' codecs: still read, and rewritten as a block when
new windows are merged into them.

New windows are merged into the stored row of their period (a period fills up over many
maintenance runs); a window computed again replaces the stored one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codec import decode_times, decode_values, encode_values
from . import PERIOD_S
from .block import decode_block, encode_block
from .windows import AGGREGATES, FIELDS, Windows

TIME_COLUMNS = ("times", "first_times", "last_times")
VALUE_COLUMNS = AGGREGATES
# Windows field for each time column
_TIME_FIELDS = {"times": "ends", "first_times": "first_times", "last_times": "last_times"}

_STORED_SQL = """
    SELECT r.series_id, _prom_catalog.timestamptz_to_us(r.chunk_start) AS key, r.block, {columns}
    FROM prom_data.rollup r
    JOIN unnest($2::int8[], $3::int8[]) AS k(s, b)
      ON r.resolution_s = $1 AND r.series_id = k.s AND r.chunk_start = _prom_catalog.timestamptz_from_us(k.b)
""".format(columns=", ".join(f"r.{c}" for c in TIME_COLUMNS + VALUE_COLUMNS))

_UPSERT_SQL = """
    INSERT INTO prom_data.rollup (resolution_s, series_id, chunk_start, count, block)
    SELECT $1, u.s, _prom_catalog.timestamptz_from_us(u.b), u.n, u.block
    FROM unnest($2::int8[], $3::int8[], $4::int4[], $5::bytea[]) AS u(s, b, n, block)
    ON CONFLICT (resolution_s, series_id, chunk_start) DO UPDATE SET
        count = excluded.count, block = excluded.block, {updates}
""".format(updates=", ".join(f"{c} = NULL" for c in TIME_COLUMNS + VALUE_COLUMNS))


# Rows written before blocks (migration 0019): columns left empty when they equal what other
# columns imply, which is the rule for counters without a reset in the row (a counter only rises: its minimum is the first value, its maximum
# the last, its increase their difference). Checked bit for bit when writing; readers (and the
# views, in SQL) derive the column again.
IMPLIED = {
    "mins": lambda w: w["firsts"],
    "maxs": lambda w: w["lasts"],
    "increases": lambda w: w["lasts"] - w["firsts"],
}


def encode_value_column(name: str, columns: dict) -> bytes:
    """A value column in the form of rows written before blocks: no longer written, kept so the
    tests can make such rows (tests/lifecycle/test_rollup_queries.py) and read them back."""
    values = columns[name]
    implied = IMPLIED.get(name)
    if implied is not None and len(values):
        with np.errstate(all="ignore"):
            if np.array_equal(values.view(np.int64), implied(columns).view(np.int64)):
                return b""
    return encode_values(values)


def decode_value_columns(raw: dict, names) -> dict:
    """The value columns ``names`` of a stored row (``raw``: column name to bytes), implied
    ones derived."""
    out = {}
    for name in ("firsts", "lasts"):
        if name in raw:
            out[name] = decode_values(raw[name])
    for name in names:
        if name in out:
            continue
        data = raw[name]
        if len(data) == 0 and name in IMPLIED:
            with np.errstate(all="ignore"):
                out[name] = IMPLIED[name](out)
        else:
            out[name] = decode_values(data)
    return {n: out[n] for n in names}


def period_starts(ends_us: np.ndarray, resolution_s: int) -> np.ndarray:
    """The stored row (period start) of each window: a window belongs to the period holding
    its last instant (end - 1 µs), so a period's row never holds a window of the next."""
    period_us = PERIOD_S[resolution_s] * 1_000_000
    return ((ends_us - 1) // period_us) * period_us


def decode_row(row: dict, series_id: int) -> Windows:
    """The windows of a stored row (a dict with the table's columns), either form."""
    if row.get("block") is not None:
        w = decode_block(row["block"])
        return Windows(series_ids=np.full(len(w["ends"]), series_id, dtype=np.int64),
                       **{f: w[f] for f in FIELDS[1:]})
    ends = decode_times(row["times"])
    values = decode_value_columns(row, VALUE_COLUMNS)
    return Windows(series_ids=np.full(len(ends), series_id, dtype=np.int64), ends=ends,
                   first_times=decode_times(row["first_times"]), last_times=decode_times(row["last_times"]),
                   **values)


def encode_row(part: Windows) -> bytes:
    return encode_block({f: getattr(part, f) for f in FIELDS[1:]})


def merge(stored: Windows, fresh: Windows) -> Windows:
    """Windows of one series from both, ordered by end; fresh ones win an equal end."""
    both = Windows.concat([stored, fresh])
    order = np.argsort(both.ends, kind="stable")
    both = both.take(order)
    keep = np.r_[both.ends[1:] != both.ends[:-1], True]  # the later of equal ends: the fresh one
    return both.take(keep)


def write_windows(plpy: Any, plans: dict, resolution_s: int, fresh: Windows) -> int:
    """Merges the windows (ordered by series, end) into their rows; returns the rows written."""
    if not len(fresh):
        return 0
    keys = period_starts(fresh.ends, resolution_s)
    cuts = np.flatnonzero(np.r_[True, (fresh.series_ids[1:] != fresh.series_ids[:-1]) | (keys[1:] != keys[:-1])])
    bounds = np.r_[cuts, len(fresh)]
    sids, bkeys = fresh.series_ids[cuts].tolist(), keys[cuts].tolist()
    if "rollup_stored" not in plans:
        plans["rollup_stored"] = plpy.prepare(_STORED_SQL, ["int4", "int8[]", "int8[]"])
        plans["rollup_upsert"] = plpy.prepare(_UPSERT_SQL, ["int4", "int8[]", "int8[]", "int4[]", "bytea[]"])
    stored = {(r["series_id"], r["key"]): r for r in plpy.execute(plans["rollup_stored"], [resolution_s, sids, bkeys])}
    counts: list[int] = []
    blocks: list[bytes] = []
    for i, (sid, key) in enumerate(zip(sids, bkeys)):
        part = fresh.take(slice(int(bounds[i]), int(bounds[i + 1])))
        old = stored.get((sid, key))
        if old is not None:
            part = merge(decode_row(old, sid), part)
        counts.append(len(part))
        blocks.append(encode_row(part))
    plpy.execute(plans["rollup_upsert"], [resolution_s, sids, bkeys, counts, blocks])
    return len(sids)
