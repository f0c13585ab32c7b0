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


def test_all_series_sorted_and_deduplicated_at_once_as_each_alone():
    """read_samples orders and deduplicates every series of a read together; each series must
    come out exactly as dedup_sorted makes it alone (same sample kept on a duplicate time)."""
    from promscale.codec.series import dedup_sorted
    from promscale.lifecycle.read import sorted_unique, split_series

    rng = np.random.default_rng(3)
    stale = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]
    for _ in range(50):
        n = int(rng.integers(1, 400))
        ids = rng.integers(1, 6, n).astype(np.int64)
        times = rng.integers(0, 60, n).astype(np.int64) * 1000  # many duplicate times
        values = rng.choice([1.0, -1.0, 0.0, -0.0, np.inf, np.nan, stale, 2.5], n)
        start, end = 5_000, 50_000
        got = split_series(*sorted_unique(ids, times, values, start, end))
        for sid in range(1, 6):
            mine = ids == sid
            inside = mine & (times >= start) & (times <= end)
            want = dedup_sorted(times[inside], values[inside])
            if not len(want):
                assert sid not in got
                continue
            assert np.array_equal(got[sid].times, want.times)
            assert np.array_equal(got[sid].values.view(np.uint64), want.values.view(np.uint64))


def test_ordered_input_is_returned_as_it_is():
    from promscale.lifecycle.read import sorted_unique, split_series

    ids = np.array([1, 1, 2, 7, 7, 7], dtype=np.int64)
    times = np.array([1, 2, 1, 1, 5, 9], dtype=np.int64)
    values = np.arange(6, dtype=np.float64)
    out = split_series(*sorted_unique(ids, times, values, 0, 10))
    assert list(out) == [1, 2, 7]
    assert out[7].times.tolist() == [1, 5, 9] and out[7].values.tolist() == [3.0, 4.0, 5.0]


def test_flushed_rows_are_converted_together_as_each_alone():
    """Flushed (RAW) rows are joined and converted in one go; mixed with fully encoded rows of
    the same series, overlapping and duplicating each other, the read is the one that decoding
    every row alone gives."""
    from promscale.codec import decode_times, decode_values, encode_times_raw, encode_values_raw
    from promscale.lifecycle.read import read_samples_flat, sorted_unique

    rng = np.random.default_rng(11)
    stale = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]
    for _ in range(20):
        rows = []
        for series_id in sorted(rng.choice(50, size=int(rng.integers(1, 6)), replace=False).tolist()):
            for start in sorted(rng.integers(0, 1000, size=int(rng.integers(1, 5))).tolist()):
                t = np.unique(start + rng.integers(0, 300, size=int(rng.integers(1, 40))))
                v = rng.choice([1.5, -0.0, np.nan, stale, 7.25, np.inf], size=len(t))
                raw = bool(rng.integers(0, 2))
                rows.append({"series_id": series_id,
                             "times": (encode_times_raw if raw else encode_times)(t),
                             "vals": (encode_values_raw if raw else encode_values)(v)})
        stub = PlpyStub()
        stub.on("FROM prom_data.compressed_sample", lambda *a, rows=rows: rows)
        stub.on("FROM prom_data.sample", lambda *a: [{"ids": None, "times": None, "vals": None}])
        stub.on("FROM pg_catalog.pg_class", lambda *a: [{"n": 1000}])
        ids, times, values = read_samples_flat(stub, {}, [r["series_id"] for r in rows], 100, 900)
        alone = [(np.full(len(decode_times(r["times"])), r["series_id"]), decode_times(r["times"]),
                  decode_values(r["vals"])) for r in rows]
        want = sorted_unique(*(np.concatenate(parts) for parts in zip(*alone)), 100, 900)
        assert ids.tolist() == want[0].tolist()
        assert times.tolist() == want[1].tolist()
        assert values.view(np.int64).tolist() == want[2].view(np.int64).tolist()
