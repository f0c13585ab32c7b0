"""Timestamps of one series: microseconds (int64) → bytes, delta-of-delta.

Layout: encoding, count, first time, then (count ≥ 2) the unit as a power of ten
of microseconds (Prometheus sends milliseconds: unit 10³) and one of:

* ``DOD``: the first delta and the zigzagged deltas-of-deltas as byte planes,
  compressed. Regular scrapes make every delta-of-delta zero but for jitter.
* ``GRID``: the scrape interval and each time's offset from its slot on the
  regular grid ``first + k·interval``. Scrape jitter is independent from one
  scrape to the next, so offsets are smaller than deltas-of-deltas (which add
  up three jitters): about 0.2 byte per sample less at a few ms of jitter.

The encoder keeps the smaller. Any int64 input round-trips, in any order:
differences wrap like two's complement and the wrapping sums undo them.

``RAW`` is the times after the count as big-endian int64, PostgreSQL's binary form of
timestamptz (``timestamptz_send``): a flush of the head writes what SQL hands it, at no
CPU cost (``raw_times``), one row per series per partition, and compaction rewrites it
with the encodings above (extension/promscale/lifecycle/flush.py, compact.py).
"""

from __future__ import annotations

import numpy as np

from ._bytes import (I64, U64, deflate, from_planes, get_varint, pack, put_varint, to_planes, unpack, unzz,
                     width_of, wrapping_cumsum, wrapping_diff, zigzag, unzigzag, zz)

DOD, GRID, RAW = 1, 2, 3
_UNITS = (1_000_000, 100_000, 10_000, 1000, 100, 10, 1)


def _unit_of(deltas: np.ndarray) -> int:
    for unit in _UNITS:
        if not np.any(deltas % unit):
            return unit
    return 1


def encode_times(times_us: np.ndarray) -> bytes:
    t = np.ascontiguousarray(times_us, dtype=I64)
    out = bytearray((DOD,))
    put_varint(out, len(t))
    if len(t) == 0:
        return bytes(out)
    put_varint(out, zz(int(t[0])))
    if len(t) == 1:
        return bytes(out)
    deltas = wrapping_diff(t)
    unit = _unit_of(deltas)
    scaled = deltas // unit if unit > 1 else deltas
    candidates = [_dod_payload(scaled, unit), _grid_payload(t, scaled, unit)]
    mode, header, payload = min(candidates, key=lambda c: len(c[1]) + (len(deflate(c[2])) if c[2] else 0))
    out[0] = mode
    out += header
    if payload:
        out += pack(payload)
    return bytes(out)


def encode_times_raw(times_us: np.ndarray) -> bytes:
    """The ``RAW`` form of times."""
    return raw_times(np.ascontiguousarray(times_us, dtype=">i8").tobytes(), len(times_us))


def raw_times(big_endian: bytes, count: int) -> bytes:
    """The ``RAW`` form of ``count`` times given as concatenated ``timestamptz_send`` values
    (mode, count, the values as they are)."""
    out = bytearray((RAW,))
    put_varint(out, count)
    out += big_endian
    return bytes(out)


def raw_times_payload(data: bytes) -> bytes | None:
    """The big-endian int64 times of a ``RAW`` encoded row as they are, or None for the
    other modes: readers concatenate many such rows and convert them with one NumPy call."""
    if not data or data[0] != RAW:
        return None
    count, pos = get_varint(data, 1)
    return data[pos:pos + 8 * count]


def _dod_payload(scaled: np.ndarray, unit: int) -> tuple[int, bytes, bytes]:
    header = bytearray((_UNITS.index(unit),))
    put_varint(header, zz(int(scaled[0])))
    dod = zigzag(wrapping_diff(scaled))
    width = width_of(dod)
    header.append(width)
    return DOD, bytes(header), to_planes(dod, width)


def _grid_payload(t: np.ndarray, scaled: np.ndarray, unit: int) -> tuple[int, bytes, bytes]:
    # the median delta is the interval; clamped, as a float median of huge deltas may leave int64
    step = min(max(int(np.median(scaled)), -(1 << 63)), (1 << 63) - 1)
    slots = np.arange(1, len(t), dtype=I64) * np.int64(step)
    # offset of each time (in units) from its slot: (t_k - t_0)/unit - k·step, all wrapping
    with np.errstate(over="ignore"):
        from_first = np.cumsum(scaled.view(U64)).view(I64)
        offsets = zigzag((from_first.view(U64) - slots.view(U64)).view(I64))
    header = bytearray((_UNITS.index(unit),))
    put_varint(header, zz(step))
    width = width_of(offsets)
    header.append(width)
    return GRID, bytes(header), to_planes(offsets, width)


def decode_times(data: bytes | memoryview) -> np.ndarray:
    buf = memoryview(data)
    mode = buf[0]
    if mode not in (DOD, GRID, RAW):
        raise ValueError(f"unknown timestamp encoding {mode}")
    count, pos = get_varint(buf, 1)
    if mode == RAW:
        return np.frombuffer(buf, dtype=">i8", count=count, offset=pos).astype(np.int64)
    if count == 0:
        return np.empty(0, dtype=I64)
    first, pos = get_varint(buf, pos)
    if count == 1:
        return np.array([unzz(first)], dtype=I64)
    unit = _UNITS[buf[pos]]
    param, pos = get_varint(buf, pos + 1)
    width = buf[pos]
    pos += 1
    n = count - 2 if mode == DOD else count - 1
    stream = unzigzag(from_planes(unpack(buf[pos:]), n, width)) if width else np.zeros(n, dtype=I64)
    if mode == DOD:
        scaled = wrapping_cumsum(unzz(param), stream)
        from_first = wrapping_cumsum(0, scaled)[1:]
    else:
        slots = np.arange(1, count, dtype=I64) * np.int64(unzz(param))
        from_first = (stream.view(U64) + slots.view(U64)).view(I64)
    # wrapping unsigned array arithmetic (see _bytes.wrapping_cumsum: no np.errstate needed)
    if unit > 1:
        from_first = (from_first.view(U64) * np.uint64(unit)).view(I64)
    out = np.empty(count, dtype=I64)
    out[0] = unzz(first)
    out[1:] = (from_first.view(U64) + np.uint64(unzz(first) & 0xFFFFFFFFFFFFFFFF)).view(I64)
    return out
