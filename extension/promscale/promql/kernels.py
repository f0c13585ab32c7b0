"""The C kernels of src/query_kernels.c: rate's extrapolation, the window bounds, rollups'
pseudo-samples and a matrix's JSON, each one pass over its arrays instead of a NumPy operation
(or a Python string) at a time.

The library is the extension's own (installed as $libdir/promscale); its C functions are plain
functions over arrays, opened with ctypes once per session by api.run. Where nothing loads them
(unit tests with the plpy stub; a role that may not call query_kernels_library) the callers use
their NumPy code, which the kernels reproduce bit for bit (tests/promql/test_query_kernels.py).
"""

from __future__ import annotations

import ctypes

import numpy as np

ABI = 1  # src/query_kernels.c, QUERY_KERNELS_ABI

_i64p = ctypes.POINTER(ctypes.c_int64)
_f64p = ctypes.POINTER(ctypes.c_double)
_u8p = ctypes.POINTER(ctypes.c_uint8)
_charp = ctypes.c_char_p
_i64 = ctypes.c_int64

_library = None  # the opened library; False once it could not be opened


def load(plpy) -> None:
    """Opens the kernels for this session (api.run calls it for every query; after the first,
    nothing). A role that may not call query_kernels_library (none of the roles that query lack
    it: 035-planner-library.sql) evaluates with NumPy."""
    global _library
    if _library is not None:
        return
    try:
        (row,) = plpy.execute("SELECT _prom_catalog.query_kernels_library() AS lib")
    except plpy.SPIError:  # PL/Python ran the statement in a subtransaction: nothing else is undone
        _library = False
        return
    abi, path = row["lib"].split(" ", 1)
    if int(abi) != ABI:  # a library of another build than these modules: use NumPy
        _library = False
        return
    lib = ctypes.CDLL(path)
    lib.promscale_window_bounds.restype = None
    lib.promscale_window_bounds.argtypes = [_i64p, _i64p, _i64p, _i64, _i64p, _i64p, _i64, _i64p, _i64p]
    lib.promscale_extrapolated_rate.restype = None
    lib.promscale_extrapolated_rate.argtypes = [_i64p, _f64p, _f64p, _i64p, _i64p, _i64p, _i64, _i64p, _i64p,
                                                _i64p, _i64, _i64, ctypes.c_int32, ctypes.c_int32, _f64p, _f64p, _u8p]
    lib.promscale_rollup_points.restype = _i64
    lib.promscale_rollup_points.argtypes = [ctypes.c_int32, _i64, _i64p, _i64p, _i64p, _f64p, _f64p, _f64p, _f64p,
                                            _i64, _i64, _i64p, _f64p, _f64p, _f64p, _i64p]
    lib.promscale_matrix_json.restype = _i64
    lib.promscale_matrix_json.argtypes = [_charp, _i64, _u8p, _i64, _i64, _charp, _i64p, _charp, _i64p,
                                          ctypes.c_void_p, _i64]
    _library = lib


def loaded() -> bool:
    return bool(_library)


def _ptr(a: np.ndarray, kind):
    return a.ctypes.data_as(kind)


def _i64s(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def window_bounds(t: np.ndarray, starts: np.ndarray, lengths: np.ndarray, lo_time: np.ndarray,
                  hi_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), one row per series and one column per step: searchsorted(t_k, lo_time, "left")
    clipped to searchsorted(t_k, hi_time, "right"), per series. lo_time and hi_time must be
    nondecreasing."""
    t, starts, lengths, lo_time, hi_time = map(_i64s, (t, starts, lengths, lo_time, hi_time))
    lo = np.empty((len(starts), len(lo_time)), dtype=np.int64)
    hi = np.empty_like(lo)
    _library.promscale_window_bounds(_ptr(t, _i64p), _ptr(starts, _i64p), _ptr(lengths, _i64p), len(starts),
                                     _ptr(lo_time, _i64p), _ptr(hi_time, _i64p), len(lo_time),
                                     _ptr(lo, _i64p), _ptr(hi, _i64p))
    return lo, hi


def extrapolated_rate(t, v, starts, lengths, lo, hi, ref, rng: int, is_counter: bool, is_rate: bool,
                      raw=None, n=None) -> tuple[np.ndarray, np.ndarray]:
    """functions/windows.py's _extrapolated_rate, with ``lo``/``hi`` relative to each series'
    start (Matrix.all_windows's)."""
    t, starts, lengths, lo, hi, ref = map(_i64s, (t, starts, lengths, lo, hi, ref))
    v = np.ascontiguousarray(v, dtype=np.float64)
    if raw is not None:
        raw = np.ascontiguousarray(raw, dtype=np.float64)
        n = _i64s(n)
    raw_p = None if raw is None else _ptr(raw, _f64p)
    n_p = None if n is None else _ptr(n, _i64p)
    out = np.empty(lo.shape)
    ok = np.empty(lo.shape, dtype=np.uint8)
    drop_sums = np.empty(len(v) + 1 if is_counter else 0)  # the kernel's scratch for counter resets
    _library.promscale_extrapolated_rate(_ptr(t, _i64p), _ptr(v, _f64p), raw_p, n_p, _ptr(starts, _i64p),
                                         _ptr(lengths, _i64p), len(starts), _ptr(lo, _i64p), _ptr(hi, _i64p),
                                         _ptr(ref, _i64p), len(ref), int(rng), int(is_counter), int(is_rate),
                                         _ptr(drop_sums, _f64p), _ptr(out, _f64p), _ptr(ok, _u8p))
    return out, ok.view(bool)


def rollup_points(adjust: bool, sids, first_times, last_times, firsts, lasts, increases, counts, mint_ms: int,
                  maxt_ms: int) -> tuple:
    """rollup/read.py's counter (adjust) or edges points of windows laid end to end, only those in
    [mint_ms, maxt_ms]: (times ms, values, {"raw": raw values, "n": raw samples up to each}, series
    id per point)."""
    sids, first_times, last_times = map(_i64s, (sids, first_times, last_times))
    firsts, lasts, counts = (np.ascontiguousarray(a, dtype=np.float64) for a in (firsts, lasts, counts))
    if adjust:
        increases = np.ascontiguousarray(increases, dtype=np.float64)
    m = len(sids)
    t = np.empty(2 * m, dtype=np.int64)
    v, raw, n = np.empty(2 * m), np.empty(2 * m), np.empty(2 * m)
    point_sids = np.empty(2 * m, dtype=np.int64)
    k = _library.promscale_rollup_points(int(adjust), m, _ptr(sids, _i64p), _ptr(first_times, _i64p),
                                         _ptr(last_times, _i64p), _ptr(firsts, _f64p), _ptr(lasts, _f64p),
                                         _ptr(increases, _f64p) if adjust else None, _ptr(counts, _f64p),
                                         int(mint_ms), int(maxt_ms), _ptr(t, _i64p), _ptr(v, _f64p),
                                         _ptr(raw, _f64p), _ptr(n, _f64p), _ptr(point_sids, _i64p))
    return t[:k], v[:k], {"raw": raw[:k], "n": n[:k]}, point_sids[:k]


def _joined(texts: list[str]) -> tuple[bytes, np.ndarray]:
    data = [s.encode() for s in texts]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return b"".join(data), offsets


def matrix_json(values_text: bytes, mask: np.ndarray, times: list[str], heads: list[str], prefix: bytes = b"",
                suffix: bytes = b"") -> bytes | None:
    """prefix + the "result" of a matrix (api.matrix_pieces) + suffix, UTF-8: ``heads`` open the
    series (in output order, each with a present point), ``mask`` their present points, ``times``
    the steps' times as text and ``values_text`` the present values as orjson wrote them. None
    when a value needs Go's formatting (an exponent, NaN, an infinity): the caller formats those
    itself."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    time_text, time_offsets = _joined([f'"],[{t},"' for t in times])
    head_text, head_offsets = _joined(heads)
    points = int(mask.sum())
    longest_time = int(np.diff(time_offsets).max()) if len(times) else 0
    cap = len(head_text) + points * longest_time + len(values_text) + 4 * len(heads) + 2
    out = np.empty(len(prefix) + cap + len(suffix), dtype=np.uint8)  # not zeroed: only what is written is read
    out[:len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    written = _library.promscale_matrix_json(values_text, len(values_text), _ptr(mask, _u8p), mask.shape[0],
                                             mask.shape[1], time_text, _ptr(time_offsets, _i64p), head_text,
                                             _ptr(head_offsets, _i64p), out.ctypes.data + len(prefix), cap)
    if written == -1:
        return None
    if written < 0:
        raise AssertionError("matrix_json: the output's size was underestimated")
    end = len(prefix) + written
    out[end:end + len(suffix)] = np.frombuffer(suffix, dtype=np.uint8)
    return out[:end + len(suffix)].tobytes()
