"""One compressed block per rollup row: every column of a row's windows together.

A row of 1 h windows holds 720 windows; stored column by column (10 encoded columns, each with
its own header and compressor framing) it cost ~11.8 bytes per window and seven decoder calls
per read. The block predicts each column from the others before one compression:

* times, in the largest power-of-ten unit dividing them all (ms for Prometheus samples), with
  the scrape interval ``S`` (the median spacing of samples within windows):
  window ends as their distance to the previous end minus the resolution (0 for contiguous
  windows); each window's first sample time as its distance to the previous window's last
  sample minus ``S``; its last sample time as its distance to its first minus ``(count - 1) S``.
  Regular scrapes leave only the jitter;
* counts as differences (0 while the scrape interval holds);
* values, when one decimal scale ``10^k`` makes every value an integer bit-exactly (counters,
  most gauges): each first value as its distance to the previous window's last value (one
  scrape's increment for a counter), each window's ``last - first`` less its median (a steady
  rate leaves the noise), each sum as ``2 sum - count (first + last)`` (a counter's sum is close
  to the trapezoid), min, max and increase as their distance to first, last and ``last -
  first``, or left out when equal to those bit for bit (the rule of rows.py). Otherwise every
  value column is XOR-ed with its previous value (Gorilla's idea), bit-exact for any float.

Each stream is zigzagged (small magnitudes of either sign become small unsigned numbers) and
stored in the narrowest width holding it (0, 1, 2, 4 or 8 bytes; a few outliers, such as a
counter reset's window, are kept apart as exceptions) cut into byte planes (all low bytes, then
the next...: small values become runs a compressor squeezes); the row's scalars sit in a fixed
header. All of it is compressed with raw deflate, one deflate block per plane (its own Huffman
codes), in one stream: one call decodes it, ~10x cheaper than lzma, which a dashboard's first
query would pay on thousands of rows. ``decode_blocks`` decodes many rows at once: rows of the
same layout (window count, widths, modes) are stacked and decoded with one set of NumPy calls,
so a query's cost per row is the decompression and a header unpack, not ~100 NumPy calls.
Integer arithmetic wraps (NumPy arrays wrap silently) and the decoder undoes it the same way, so
any int64 input round-trips.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

I64 = np.dtype("<i8")
VERSION = 1
# value modes
DECIMAL, XOR = 0, 1
# flags: which of mins, maxs, increases are stored (the others equal firsts, lasts, lasts - firsts)
_EXTRA = (("mins", 1), ("maxs", 2), ("increases", 4))
# compressor tags
RAW, DEFLATE = 0, 1
_UNITS = (1_000_000, 1000, 1)
_MAX_SCALE = 9
_EXACT_INT = float(1 << 53)
# streams, in order: end gaps, first-time residuals, last-time residuals, count differences, then
# three value streams (decimal: first residuals, last - first less its median, sum residuals;
# XOR: firsts, lasts, sums) and the stored ones of mins, maxs, increases
_STREAMS = 10
# window count, unit, value mode, flags, decimal scale, the streams' widths and exception counts;
# first end, smallest end gap, scrape interval, first time less first end, first count, first
# value (decimal), median of last - first (decimal)
_HEADER = struct.Struct("<IBBBB10B10H7q")
# an exception: its position (uint16) and value (int64), after all planes
_EXCEPTION_BYTES = 10

COLUMNS = ("ends", "first_times", "last_times", "counts", "sums", "mins", "maxs", "firsts", "lasts", "increases")
TIME_COLUMNS = ("ends", "first_times", "last_times")


def _unit(*arrays: np.ndarray) -> int:
    for unit in _UNITS:
        if not any(np.any(a % unit) for a in arrays):
            return unit
    return 1


def _decimal(columns: list[np.ndarray]) -> tuple[int, list[np.ndarray]] | None:
    """The smallest k such that every value of every column is an integer times 10^-k
    bit-exactly (checked the way the decoder rebuilds them), with the integers."""
    v = np.concatenate(columns)
    if not np.isfinite(v).all():
        return None
    bits = v.view(I64)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(_MAX_SCALE + 1):
            factor = 10.0 ** k
            scaled = np.rint(v * factor)
            if not (np.abs(scaled) < _EXACT_INT).all():
                return None
            ints = scaled.astype(I64)
            back = ints.astype(np.float64)
            if k:
                back /= factor
            if np.array_equal(back.view(I64), bits):
                return k, np.split(ints, np.cumsum([len(c) for c in columns])[:-1])
    return None


def _zigzag(x: np.ndarray) -> np.ndarray:
    """int64 to uint64 with small magnitudes first (0, -1, 1, -2...): the high planes of a
    stream of small values of both signs are then zero rather than 0x00 or 0xFF at random."""
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> np.uint64(1)).view(I64) ^ -(z & np.uint64(1)).view(I64)


def _width(z: np.ndarray) -> tuple[int, np.ndarray]:
    """The narrowest width for the zigzagged z (0: all zero) and the positions of the values it
    cannot hold, stored apart as exceptions: a counter reset or a gap makes one window's
    residual huge, and would otherwise widen every window's. At most one value in 64 (an
    exception costs 10 bytes, a byte of width one per window)."""
    if not len(z):
        return 0, np.zeros(0, dtype=np.int64)
    best = None
    for width in (0, 1, 2, 4, 8):
        if width == 8:
            out = np.zeros(0, dtype=np.int64)
        else:
            out = np.flatnonzero(z >= np.uint64(1 << (8 * width))) if width else np.flatnonzero(z)
            # a few outliers only: the planes of a wider stream compress well, exceptions do not
            if len(out) > len(z) // 64 or (len(z) > 65535 and len(out)):  # positions are uint16
                continue
        cost = width * len(z) + _EXCEPTION_BYTES * len(out)
        if best is None or cost < best[0]:
            best = (cost, width, out)
        if not len(out):
            break
    return best[1], best[2]


def _planes(z: np.ndarray, width: int) -> list[bytes]:
    planes = z.astype(f"<u{width}").view(np.uint8).reshape(-1, width).T
    return [plane.tobytes() for plane in planes]


def encode_block(w: dict) -> bytes:
    """The block of one row's windows: ``w`` maps each name of COLUMNS to an array (times in
    µs, int64; the rest float64), ordered by end, at least one window."""
    ends, ft, lt = (np.asarray(w[c], dtype=I64) for c in TIME_COLUMNS)
    counts = np.asarray(w["counts"], dtype=np.float64)
    n = len(ends)
    c = counts.astype(I64)
    if not n or not np.array_equal(c.astype(np.float64), counts):
        raise ValueError("a rollup block needs windows with integer counts")
    unit = _unit(ends, ft, lt)
    e, f, la = ends // unit, ft // unit, lt // unit
    gaps = np.diff(e)
    res = int(gaps.min()) if n > 1 else 0
    # the scrape interval: the median spacing of samples inside windows of 2 samples or more
    several = c > 1
    step = int(np.median((la - f)[several] // (c - 1)[several])) if several.any() else 0
    streams = [gaps - res, f[1:] - la[:-1] - step, la - f - (c - 1) * step, np.diff(c)]
    firsts, lasts, sums = (np.asarray(w[x], dtype=np.float64) for x in ("firsts", "lasts", "sums"))
    with np.errstate(all="ignore"):
        implied = {"mins": firsts, "maxs": lasts, "increases": lasts - firsts}
    stored = [x for x, _ in _EXTRA
              if not np.array_equal(np.asarray(w[x], dtype=np.float64).view(I64), implied[x].view(I64))]
    flags = sum(flag for x, flag in _EXTRA if x in stored)
    extra = [np.asarray(w[x], dtype=np.float64) for x in stored]
    found = _decimal([firsts, lasts, sums] + extra)
    k = if0 = med = 0
    if found is not None:
        mode = DECIMAL
        k, (i_f, i_l, i_s, *i_extra) = found
        d = i_l - i_f
        med = int(np.median(d))
        if0 = int(i_f[0])
        # 2 sum - count (first + last) has the parity of count (first + last): its low bit is implied
        streams += [i_f[1:] - i_l[:-1], d - med, (2 * i_s - c * (i_f + i_l)) >> 1]
        base = {"mins": i_f, "maxs": i_l, "increases": d}
        streams += [ints - base[x] for x, ints in zip(stored, i_extra)]
    else:
        mode = XOR
        for col in [firsts, lasts, sums] + extra:
            bits = col.view(I64).copy()
            bits[1:] ^= col.view(I64)[:-1]
            streams.append(bits)
    planes = []
    widths = [0] * _STREAMS
    n_exceptions = [0] * _STREAMS
    exceptions = []
    for i, stream in enumerate(streams):
        z = _zigzag(stream)
        width, out = _width(z)
        widths[i], n_exceptions[i] = width, len(out)
        if len(out):
            exceptions += [out.astype("<u2").tobytes(), stream[out].astype("<i8").tobytes()]
            z[out] = 0
        if width:
            planes += _planes(z, width)
    header = _HEADER.pack(n, _UNITS.index(unit), mode, flags, k, *widths, *n_exceptions,
                          int(e[0]), res, step, int(f[0] - e[0]), int(c[0]), if0, med)
    if exceptions:
        planes.append(b"".join(exceptions))
    return _pack(header, planes)


def _pack(header: bytes, planes: list[bytes]) -> bytes:
    """Raw deflate of the header and planes, a deflate block for each plane: each plane gets
    its own Huffman codes (the low bytes of a noisy stream and the high bytes of another have
    nothing in common; one table for all costs ~15 %), decompressed by one call."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    parts = [bytes((VERSION, DEFLATE)), compressor.compress(header)]
    for plane in planes:
        parts.append(compressor.flush(zlib.Z_BLOCK))
        parts.append(compressor.compress(plane))
    parts.append(compressor.flush())
    packed = b"".join(parts)
    raw = len(header) + sum(len(p) for p in planes) + 2
    if len(packed) >= raw:
        return b"".join([bytes((VERSION, RAW)), header] + planes)
    return packed


def _unpack(block) -> bytes:
    if block[0] != VERSION:
        raise ValueError(f"unknown rollup block version {block[0]}")
    tag = block[1]
    if tag == DEFLATE:
        return zlib.decompress(memoryview(block)[2:], -15)
    if tag == RAW:
        return bytes(block[2:])
    raise ValueError(f"unknown rollup block compressor {tag}")


def decode_block(block, names=COLUMNS) -> dict:
    """The columns ``names`` (a subset of COLUMNS) of one block: times in µs (int64), the rest
    float64."""
    return decode_blocks([block], names)[0]


def decode_blocks(blocks: list, names=COLUMNS) -> list[dict]:
    """decode_block of every block, rows of one layout decoded together (see the module's doc)."""
    bodies = [_unpack(b) for b in blocks]
    heads = [_HEADER.unpack_from(b) for b in bodies]
    groups: dict = {}
    for i, h in enumerate(heads):
        groups.setdefault((h[0], h[2], h[3]) + h[5:15], []).append(i)
    out: list = [None] * len(blocks)
    for key, rows in groups.items():
        cols = _decode_group(key, np.array([heads[i] for i in rows], dtype=object),
                             [bodies[i] for i in rows], set(names), _dense_size(key))
        for j, i in enumerate(rows):
            out[i] = {x: cols[x][j] for x in names}
    return out


def _stream_counts(key: tuple) -> list[int]:
    n, mode, flags = key[:3]
    stored = [x for x, flag in _EXTRA if flags & flag]
    return [n - 1, n - 1, n, n - 1] + ([n - 1, n, n] if mode == DECIMAL else [n, n, n]) + [n] * len(stored)


def _dense_size(key: tuple) -> int:
    """Bytes of the header and planes of blocks of layout ``key`` (exceptions follow)."""
    return _HEADER.size + sum(m * w for m, w in zip(_stream_counts(key), key[3:]))


def _decode_group(key: tuple, heads: np.ndarray, bodies: list, want: set, dense: int) -> dict:
    """Columns (2-D: row, window) of blocks sharing a layout ``key``."""
    n, mode, flags, *widths = key
    g = len(bodies)
    data = np.frombuffer(b"".join([b[:dense] for b in bodies]), dtype=np.uint8).reshape(g, dense)
    stored = [x for x, flag in _EXTRA if flags & flag]
    streams = _Streams(data, heads, bodies, _stream_counts(key), widths, dense)

    def col(j: int) -> np.ndarray:  # a header field per row, as a column
        return heads[:, j].astype(I64)[:, None]

    unit = np.array([_UNITS[u] for u in heads[:, 1]], dtype=I64)[:, None]
    k = heads[:, 4].astype(I64)
    e0, res, step, f0, c0, if0, med = (col(j) for j in range(25, 32))
    f0 = f0 + e0
    c = _running(c0, streams[3])
    out = {}
    if "ends" in want:
        out["ends"] = _running(e0, streams[0] + res) * unit
    if want & {"first_times", "last_times"}:
        spans = streams[2] + (c - 1) * step  # last - first of each window
        la = _running(f0 + spans[:, :1], streams[1] + step + spans[:, 1:])
        out["first_times"] = (la - spans) * unit
        out["last_times"] = la * unit
    if "counts" in want:
        out["counts"] = c.astype(np.float64)
    values = want & {"sums", "mins", "maxs", "firsts", "lasts", "increases"}
    if not values:
        return out
    if mode == DECIMAL:
        factor = (10.0 ** k)[:, None]
        scaled = k.any()
        d = streams[5] + med
        i_l = _running(if0 + d[:, :1], streams[4] + d[:, 1:])
        i_f = i_l - d
        ints = {"firsts": lambda: i_f, "lasts": lambda: i_l}
        if "sums" in values:
            def sums():
                trapezoid = c * (i_f + i_l)
                return ((streams[6] << 1) + (trapezoid & 1) + trapezoid) >> 1
            ints["sums"] = sums
        base = {"mins": i_f, "maxs": i_l, "increases": d}
        for j, x in enumerate(stored):
            ints[x] = lambda j=j, x=x: streams[7 + j] + base[x]
        # only the columns asked, and those the implied ones derive from
        needed = {x for x in values if x in ints} | ({"firsts"} if "mins" in values else set()) | (
            {"lasts"} if "maxs" in values else set()) | ({"firsts", "lasts"} if "increases" in values else set())
        floats = {}
        for x in needed & set(ints):
            v = ints[x]().astype(np.float64)
            floats[x] = v / factor if scaled else v
    else:
        floats = {x: np.bitwise_xor.accumulate(streams[4 + j], axis=1).view(np.float64)
                  for j, x in enumerate(["firsts", "lasts", "sums"] + stored)}
    with np.errstate(all="ignore"):
        implied = {"mins": lambda: floats["firsts"], "maxs": lambda: floats["lasts"],
                   "increases": lambda: floats["lasts"] - floats["firsts"]}
        for x in values:
            out[x] = floats[x] if x in floats else implied[x]()
    return out


class _Streams:
    """The integer streams of a group of blocks (2-D: row, value), each decoded when first asked
    (a query reading the counter needs neither the sums nor the stored mins and maxs)."""

    def __init__(self, data: np.ndarray, heads: np.ndarray, bodies: list, counts: list, widths: list,
                 dense: int) -> None:
        self.data, self.bodies, self.counts, self.widths, self.dense = data, bodies, counts, widths, dense
        self.exceptions = heads[:, 15:25].astype(I64)
        self.offsets = np.cumsum([_HEADER.size] + [m * w for m, w in zip(counts, widths)]).tolist()
        self.done: dict = {}

    def __getitem__(self, i: int) -> np.ndarray:
        hit = self.done.get(i)
        if hit is not None:
            return hit
        g, m, width, at = len(self.bodies), self.counts[i], self.widths[i], self.offsets[i]
        if width == 0:
            out = np.zeros((g, m), dtype=I64)
        else:
            planes = self.data[:, at:at + m * width].reshape(g, width, m)
            out = _unzigzag(np.ascontiguousarray(planes.transpose(0, 2, 1)).view(f"<u{width}").reshape(g, m)
                            .astype(np.uint64))
        # exceptions: after the planes, per stream its positions then its values
        for j in np.flatnonzero(self.exceptions[:, i]).tolist():
            count = int(self.exceptions[j, i])
            at = self.dense + _EXCEPTION_BYTES * int(self.exceptions[j, :i].sum())
            where = np.frombuffer(self.bodies[j], dtype="<u2", count=count, offset=at).astype(np.intp)
            out[j, where] = np.frombuffer(self.bodies[j], dtype="<i8", count=count, offset=at + 2 * count)
        self.done[i] = out
        return out


def _running(first: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Per row: first, then first plus the running sum of deltas."""
    out = np.empty((deltas.shape[0], deltas.shape[1] + 1), dtype=I64)
    out[:, :1] = first
    np.cumsum(deltas, axis=1, out=out[:, 1:])
    out[:, 1:] += first
    return out
