"""Entry points behind the SQL functions: query, query_range, their Prometheus-JSON variants,
format_query; the HTTP API (httpapi/endpoints.py) calls instant_body and range_body with the
parameters it checked. JSON bodies match Prometheus 2.42's /api/v1/query(_range) byte for byte."""

from __future__ import annotations

import math
import time as _time

import numpy as np
import orjson

from ..httpapi import params
from ..httpapi.gojson import error as error_json, json_string, json_ts, success as success_envelope
from ..httpapi.params import BadData, seconds_to_ms
from . import ast as A
from .engine import DEFAULT_LOOKBACK_MS, DEFAULT_MAX_SAMPLES, DEFAULT_SUBQUERY_STEP_MS, evaluate
from .gofmt import format_float_f, format_sample_value
from . import kernels, rollup_resolution
from .parser import ParseError, parse
from .storage import RollupStorage, SqlStorage
from .values import PromQLError, PromQLTimeout, Scalar, String, Vector

_PARSE_CACHE: dict = {}

def parse_cached(query: str) -> A.Node:
    node = _PARSE_CACHE.get(query)
    if node is None:
        node = parse(query)
        if len(_PARSE_CACHE) > 256:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[query] = node
    return node


def _settings(plpy, session) -> tuple[int, float | None, int, dict]:
    """(max samples, statement timeout in seconds or None, default subquery step in ms, the
    rollups' bounds in Unix ms: {"done_until", "raw_dropped_until"}, None where unknown)."""
    rows = plpy.execute("SELECT _ps_catalog.get_setting('promql_max_samples') AS m, "
                        "pg_catalog.current_setting('statement_timeout') AS st, "
                        "(extract(epoch FROM _ps_catalog.get_setting('promql_default_subquery_step')::interval)"
                        " * 1000)::bigint AS sub, "
                        "(SELECT (extract(epoch FROM p.done_until) * 1000)::bigint FROM _prom_catalog.rollup_progress p)"
                        " AS done_until, "
                        "(SELECT (extract(epoch FROM p.raw_dropped_until) * 1000)::bigint "
                        "FROM _prom_catalog.rollup_progress p) AS raw_dropped_until")
    max_samples = int(rows[0]["m"]) if rows[0]["m"] else DEFAULT_MAX_SAMPLES
    st = rows[0]["st"]
    timeout = None
    if st and st != "0":
        timeout = _pg_interval_seconds(st)
    rollups = {"done_until": rows[0]["done_until"], "raw_dropped_until": rows[0]["raw_dropped_until"]}
    return max_samples, timeout, rows[0]["sub"] or DEFAULT_SUBQUERY_STEP_MS, rollups


def _pg_interval_seconds(s: str) -> float:
    s = s.strip()
    units = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
    for u in ("ms", "min", "s", "h", "d"):
        if s.endswith(u):
            return float(s[:-len(u)]) * units[u]
    return float(s) / 1000.0


def subquery_step_ms(seconds: float | None) -> int | None:
    """A subquery step given in seconds (None: the installation's default), in ms."""
    if seconds is None:
        return None
    if math.isnan(seconds) or seconds <= 0 or int(round(seconds * 1000)) <= 0:
        raise BadData(f'invalid parameter "subquery_step": {seconds!r} is not a positive duration')
    return int(round(seconds * 1000))


def run(plpy, session, query: str, start_ms: int, end_ms: int, step_ms: int, timeout: float | None = None,
        lookback_ms: int | None = None, range_query: bool = False, subquery_step: int | None = None,
        max_source_resolution: str | None = None, warnings: list | None = None):
    try:
        expr = parse_cached(query)
    except ParseError as e:
        # Prometheus's query handler names the parameter, its query_range handler does not
        raise BadData(str(e) if range_query else f'invalid parameter "query": {e}') from None
    if range_query and expr.type() not in (A.VECTOR, A.SCALAR):
        raise BadData(f'invalid expression type "{expr.type()}" for range query, must be Scalar or instant Vector')
    try:
        requested = rollup_resolution.parse(max_source_resolution)
    except rollup_resolution.InvalidResolution as e:
        raise BadData(str(e)) from None
    max_samples, st, default_subquery_step, bounds = _settings(plpy, session)
    limits = [x for x in (timeout, st) if x]
    deadline = _time.monotonic() + min(limits) if limits else None
    lookback = lookback_ms or DEFAULT_LOOKBACK_MS
    rollup_s, warning = rollup_resolution.choose(requested, step_ms, start_ms - lookback, end_ms, bounds)
    if warning and warnings is not None:
        warnings.append(warning)
    kernels.load(plpy)
    storage = RollupStorage(plpy, session, rollup_s) if rollup_s else SqlStorage(plpy, session)
    val, ts = evaluate(storage, expr, start_ms, end_ms, step_ms,
                       lookback=lookback, max_samples=max_samples, deadline=deadline,
                       subquery_step=subquery_step or default_subquery_step, rollup_s=rollup_s)
    return expr, val, ts


def check_range(start: float, end: float, step: float) -> tuple[int, int, int]:
    """query_range_json's seconds as (start, end, step) milliseconds, checked as Prometheus
    checks query_range's parameters (the step in whole milliseconds, as the SQL API always had)."""
    s, e = seconds_to_ms(start), seconds_to_ms(end)
    params.check_bounds(s, e)
    step_ms = 0 if step is None or math.isnan(step) or step <= 0 else int(round(step * 1000))
    params.check_step(step_ms)
    params.check_points(s, e, step_ms * 1_000_000)
    return s, e, step_ms


# --- JSON

def fast_value(v: float) -> str:
    """format_sample_value, with Python's shortest repr where it is already Go's text
    (positional notation, |v| in [1e-4, 1e16)): the common case costs one repr()."""
    r = repr(v)
    if r.endswith(".0"):
        return r[:-2]
    if "e" in r or "n" in r:
        return format_sample_value(v)
    return r


def json_points(tstrs: list, vals) -> str:
    return ",".join([f'[{t},"{fast_value(v)}"]' for t, v in zip(tstrs, vals)])


def value_texts(vals: np.ndarray) -> list[str]:
    """fast_value of every value, formatted together by orjson (shortest round-trip digits, the
    same as repr's: tests/promql/test_json_values.py): one C call for the whole array and one
    split, instead of a repr and a Python call per value (~1 us each: 720,000 points in a
    month at hourly steps over 1,000 series). orjson writes NaN and Inf as null and some
    magnitudes with an exponent: those few go through fast_value."""
    text = orjson.dumps(vals, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    if "e" in text or "n" in text:
        return [fast_value(v) if "e" in tok or "n" in tok else (tok[:-2] if tok.endswith(".0") else tok)
                for tok, v in zip(text[1:-1].split(","), vals.tolist())]
    texts = text[1:-1].split(",")
    # whole numbers lose their ".0", as Go writes them: found with NumPy, not by a scan per token
    with np.errstate(invalid="ignore"):
        for i in np.flatnonzero(vals == np.floor(vals)).tolist():
            tok = texts[i]
            if tok.endswith(".0"):
                texts[i] = tok[:-2]
    return texts


def matrix_json(labels: list, vals: np.ndarray, mask: np.ndarray, ts_ms: np.ndarray) -> str:
    return "".join(matrix_pieces(labels, vals, mask, ts_ms))


def matrix_pieces(labels: list, vals: np.ndarray, mask: np.ndarray, ts_ms: np.ndarray) -> list[str]:
    """The "result" of a range query's vector, as pieces to join: series in label order, each
    with its present points. No Python bytecode runs per point: the body is joined once (each
    copy of a 20 MB body costs its page faults)."""
    rows, present = _present_points(labels, vals, mask)
    if not rows:
        return ["[]"]
    tstrs = [json_ts(t) for t in ts_ms.tolist()]
    texts = value_texts(present)
    # each point's text before its value: the first of a series opens it, the others close the
    # previous point too
    opening = [f'[{t},"' for t in tstrs]
    following = [f'"],[{t},"' for t in tstrs]
    pieces = ["["]
    at = 0
    for k, i in enumerate(rows):
        m = mask[i]
        if m.all():
            heads = following[:]
            heads[0] = opening[0]
        else:
            idx = np.flatnonzero(m).tolist()
            heads = [following[j] for j in idx]
            heads[0] = opening[idx[0]]
        n = len(heads)
        points = [""] * (2 * n)
        points[0::2] = heads
        points[1::2] = texts[at:at + n]
        at += n
        pieces.append(f'{"," if k else ""}{{"metric":{json_metric(labels[i])},"values":[')
        pieces += points
        pieces.append('"]]}')
    pieces.append("]")
    return pieces


def _kernel_matrix_body(labels: list, vals: np.ndarray, mask: np.ndarray, ts_ms: np.ndarray, head: str,
                        tail: str) -> bytes | None:
    """head + matrix_json(...) + tail, written by the C kernel (kernels.matrix_json) into one
    buffer: orjson writes the values as for value_texts, the kernel the points around them. None
    when a value needs fast_value (an exponent, NaN, an infinity) or no series has a point."""
    rows, present = _present_points(labels, vals, mask)
    if not rows:
        return None
    text = orjson.dumps(present, option=orjson.OPT_SERIALIZE_NUMPY)
    if b"e" in text or b"n" in text:
        return None
    heads = [f'{"," if k else ""}{{"metric":{json_metric(labels[i])},"values":[' for k, i in enumerate(rows)]
    return kernels.matrix_json(text, mask[rows], [json_ts(t) for t in ts_ms.tolist()], heads,
                               head.encode(), tail.encode())


def _present_points(labels: list, vals: np.ndarray, mask: np.ndarray) -> tuple[list, np.ndarray]:
    """The rows of a matrix's body (series in label order, those with a present point) and
    their present values in that order, contiguous."""
    rows = [i for i in sorted(range(len(labels)), key=lambda i: labels[i]) if mask[i].any()]
    if len(rows) == len(labels) and rows == list(range(len(rows))):  # in order already: no gather
        return rows, np.ascontiguousarray(vals[mask], dtype=np.float64)
    return rows, np.ascontiguousarray(vals[rows][mask[rows]], dtype=np.float64)


def json_metric(labels: tuple) -> str:
    return "{" + ",".join(f"{json_string(k)}:{json_string(v)}" for k, v in labels) + "}"


def result_json(expr, val, ts, range_query: bool) -> tuple[str, str]:
    if isinstance(val, String):
        return "string", f"[{format_float_f(int(ts[0]) / 1000)},{json_string(val.val)}]"
    if isinstance(val, Scalar):
        if range_query:
            pts = json_points([json_ts(t) for t in ts.tolist()], val.vals.tolist())
            return "matrix", f'[{{"metric":{{}},"values":[{pts}]}}]'
        # a scalar's time is a float64 in JSON, unlike sample times (jsonutil.MarshalTimestamp)
        return "scalar", f"[{format_float_f(int(ts[0]) / 1000)},\"{format_float_f(float(val.vals[0]))}\"]"
    if isinstance(val, Vector):
        if range_query:
            return "matrix", matrix_json(val.labels, val.vals, val.mask, ts)
        parts = []
        t = json_ts(int(ts[0]))
        for i, l in enumerate(val.labels):
            if val.mask[i, 0]:
                parts.append(f'{{"metric":{json_metric(l)},"value":[{t},"{format_sample_value(float(val.vals[i, 0]))}"]}}')
        return "vector", "[" + ",".join(parts) + "]"
    # a range vector from an instant query
    parts = []
    for s in sorted(instant_matrix(val), key=lambda s: s[0]):
        pts = ",".join(f"[{json_ts(int(t))},\"{format_sample_value(float(v))}\"]" for t, v in zip(s[1], s[2]))
        parts.append(f'{{"metric":{json_metric(s[0])},"values":[{pts}]}}')
    return "matrix", "[" + ",".join(parts) + "]"


def instant_matrix(mat):
    """Series of a range vector at the (single) evaluation step: (labels, times, values)."""
    out = []
    for s in mat.series:
        lo, hi = mat.windows(s)
        lo, hi = int(lo[0]), int(hi[0])
        if hi > lo:
            out.append((s.labels, s.t[lo:hi], s.v[lo:hi]))
    return out


def error_of(exc: BadData | PromQLError) -> tuple[str, str]:
    """(errorType, message) of a refused request (bad_data) or a failed evaluation (its own type)."""
    return "bad_data" if isinstance(exc, BadData) else exc.error_type, str(exc)


def guard(fn):
    """fn()'s body, or the error envelope of what it raised."""
    try:
        return fn()
    except (BadData, PromQLError) as e:
        return error_json(*error_of(e))


def success_json(typ: str, res: str, warnings: list) -> str:
    return success_envelope(f'{{"resultType":"{typ}","result":{res}}}', warnings)


def matrix_body(labels: list, vals: np.ndarray, mask: np.ndarray, ts_ms: np.ndarray, warnings: list) -> bytes:
    """The success body of a range query's vector, UTF-8: the common case, and the large one (a
    month of hourly steps over 1,000 series is 24 MB), so it is written once, not joined from
    parts (each copy of it costs its page faults), and never made a str: by the C kernel when it
    is loaded, else joined once from matrix_pieces."""
    head, tail = success_envelope("\x00", warnings).split("\x00")
    head += '{"resultType":"matrix","result":'
    tail = "}" + tail
    if kernels.loaded():
        body = _kernel_matrix_body(labels, vals, mask, ts_ms, head, tail)
        if body is not None:
            return body
    return "".join([head, *matrix_pieces(labels, vals, mask, ts_ms), tail]).encode()


def instant_body(plpy, session, query: str, at_ms: int, timeout_s: float | None, lookback_ms: int | None,
                 subquery_step: float | None, max_source_resolution: str | None) -> str:
    """The /api/v1/query success body; raises BadData and PromQLError."""
    warnings: list = []
    expr, val, ts = run(plpy, session, query, at_ms, at_ms, 0, timeout_s, lookback_ms,
                        subquery_step=subquery_step_ms(subquery_step),
                        max_source_resolution=max_source_resolution, warnings=warnings)
    typ, res = result_json(expr, val, ts, False)
    return success_json(typ, res, warnings)


def range_body(plpy, session, query: str, start_ms: int, end_ms: int, step_ms: int, timeout_s: float | None,
               lookback_ms: int | None, subquery_step: float | None, max_source_resolution: str | None) -> bytes:
    """The /api/v1/query_range success body, UTF-8 (the range already checked); raises BadData and
    PromQLError."""
    warnings: list = []
    expr, val, ts = run(plpy, session, query, start_ms, end_ms, step_ms, timeout_s, lookback_ms, range_query=True,
                        subquery_step=subquery_step_ms(subquery_step),
                        max_source_resolution=max_source_resolution, warnings=warnings)
    if isinstance(val, Vector):
        return matrix_body(val.labels, val.vals, val.mask, ts, warnings)
    typ, res = result_json(expr, val, ts, True)
    return success_json(typ, res, warnings).encode()


def _lookback_ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def query_json(plpy, session, query, t, timeout=None, lookback=None, subquery_step=None,
               max_source_resolution=None) -> str:
    """prom_api.query_json: the time and lookback in seconds."""
    return guard(lambda: instant_body(plpy, session, query, seconds_to_ms(t), params.timeout_seconds(timeout),
                                      _lookback_ms(lookback), subquery_step, max_source_resolution))


def query_range_json(plpy, session, query, start, end, step, timeout=None, lookback=None,
                     subquery_step=None, max_source_resolution=None) -> bytes:
    """prom_api.query_range_json's body, UTF-8: times, step and lookback in seconds."""
    def go():
        s, e, st = check_range(start, end, step)
        return range_body(plpy, session, query, s, e, st, params.timeout_seconds(timeout), _lookback_ms(lookback),
                          subquery_step, max_source_resolution)
    body = guard(go)
    return body if isinstance(body, bytes) else body.encode()  # an error envelope is a str


def format_query_or_error(query: str) -> list:
    """[formatted, error message, SQLSTATE] for the SQL wrapper."""
    try:
        return [format_query(query), None, None]
    except ParseError as e:
        return [None, str(e), "22023"]


def rows(expr, val, ts, range_query):
    """(labels dict, time ms, value) rows."""
    if isinstance(val, String):
        return [({}, int(ts[0]), float("nan"))]
    if isinstance(val, Scalar):
        return [({}, int(t), float(v)) for t, v in zip(ts, val.vals)]
    if isinstance(val, Vector):
        out = []
        order = sorted(range(len(val.labels)), key=lambda i: val.labels[i]) if range_query else range(len(val.labels))
        for i in order:
            m = val.mask[i]
            for t, v in zip(ts[m], val.vals[i][m]):
                out.append((dict(val.labels[i]), int(t), float(v)))
        return out
    out = []
    for labels, times, vals in instant_matrix(val):
        for t, v in zip(times, vals):
            out.append((dict(labels), int(t), float(v)))
    return out


def query_rows(plpy, session, query, start_ms, end_ms, step_ms, range_query, subquery_step=None):
    import json
    try:
        if range_query:
            params.check_bounds(start_ms, end_ms)
            params.check_step(step_ms)
        expr, val, ts = run(plpy, session, query, start_ms, end_ms, step_ms, range_query=range_query,
                            subquery_step=subquery_step_ms(subquery_step))
    except (BadData, PromQLError) as e:
        msg = str(e)
        prefix = 'invalid parameter "query": '
        state = "22023" if isinstance(e, BadData) else ("57014" if isinstance(e, PromQLTimeout) else "P0001")
        # the SQL wrapper raises it: PL/Python's own errors would carry a "plpy.Error: " prefix
        return [(None, None, None, msg[len(prefix):] if msg.startswith(prefix) else msg, state)]
    return [(json.dumps(l, ensure_ascii=False), t / 1000.0, v, None, None) for l, t, v in rows(expr, val, ts, range_query)]


def format_query(query: str) -> str:
    from .printer import prettify
    return prettify(parse(query))
