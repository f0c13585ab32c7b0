"""lifecycle/read.py with the plpy stub: rows of one series concatenated, overlapping rows
merged like SQL deduplicates, ranges cut inclusively, values handed back as bits."""

from __future__ import annotations

import numpy as np

from plpy_stub import PlpyStub
from promscale.codec import encode_times, encode_values
from promscale.lifecycle.read import compressed_samples


def row(series_id, times, values):
    t = np.array(times, dtype=np.int64)
    v = np.array(values, dtype=np.float64)
    return {"series_id": series_id, "times": encode_times(t), "vals": encode_values(v)}


def bits(*values):
    return np.array(values, dtype=np.float64).view(np.int64).tolist()


def test_rows_are_joined_merged_and_cut():
    stub = PlpyStub()
    stub.on("FROM prom_data.compressed_sample", lambda ids, start, end: [
        row(1, [10, 20], [1.0, 2.0]),
        row(1, [30, 40], [3.0, 4.0]),          # disjoint: concatenated
        row(2, [10, 20, 30], [5.0, 6.0, 7.0]),
        row(2, [20, 25], [5.5, 6.5]),          # overlaps (bucket length changed): merged
        row(3, [100], [9.0]),                  # outside the range after cutting
    ])
    plans: dict = {}
    out = compressed_samples(stub, plans, [1, 2, 3], "start", "end", 20, 40)
    assert out == [
        (1, [20, 30, 40], bits(2.0, 3.0, 4.0)),
        (2, [20, 25, 30], bits(5.5, 6.5, 7.0)),   # time 20: the smaller value wins, as in SQL
    ]
    assert "rows" in plans  # the plan is prepared once per session
    compressed_samples(stub, plans, [1], "start", "end", 0, 10)
    assert sum("FROM prom_data.compressed_sample" in q for q, _ in stub.executed) == 2


def test_stale_marker_bits_survive():
    stale = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]
    stub = PlpyStub()
    stub.on("FROM prom_data.compressed_sample", lambda *a: [row(7, [1, 2], [1.0, stale])])
    ((_, _, value_bits),) = compressed_samples(stub, {}, [7], "s", "e", 0, 5)
    assert value_bits[1] == 0x7FF0000000000002
