"""An independent computation of rollup windows from raw samples, in plain Python, one
sample at a time: what tests compare the extension's rollups with."""

from __future__ import annotations

import math
import struct

STALE_BITS = 0x7FF0000000000002


def bits_to_float(b: bytes) -> float:
    return struct.unpack(">d", b)[0]


def is_stale(b: bytes) -> bool:
    return struct.unpack(">q", b)[0] == STALE_BITS


def reference_windows(times_us: list[int], value_bits: list[bytes], resolution_us: int) -> dict[int, dict]:
    """{window end (µs): aggregates} for one series; window (end - res, end]."""
    out: dict[int, dict] = {}
    prev: float | None = None
    for t, b in zip(times_us, value_bits):
        if is_stale(b):
            continue
        v = bits_to_float(b)
        end = -(-t // resolution_us) * resolution_us
        w = out.get(end)
        if w is None:
            out[end] = {"count": 1, "sum": v, "min": v, "max": v, "first": v, "last": v, "increase": 0.0,
                        "first_time": t, "last_time": t}
        else:
            w["count"] += 1
            w["sum"] += v
            if v < w["min"] or math.isnan(w["min"]):
                w["min"] = v
            if v > w["max"] or math.isnan(w["max"]):
                w["max"] = v
            w["increase"] += v if v < prev else v - prev
            w["last"] = v
            w["last_time"] = t
        prev = v
    return out


def same_float(a: float, b: float, rel: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if rel == 0.0 or math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
