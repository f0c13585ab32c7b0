"""Runner for Prometheus's PromQL test scripts (tests/promql/testdata, verbatim from Prometheus; format in
Prometheus's promql/promqltest/README.md).

Data is loaded into a promscale database through the extension's ingest functions and every
eval goes through prom_api.query / prom_api.query_range, with the @-modifier variants and the
range-mode check of Prometheus's own runner (promql/test.go).
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

from promscale.promql import ast as A
from promscale.promql.lexer import lex, parse_duration, unquote
from promscale.promql.parser import parse

STALE_NAN = struct.unpack("<d", (0x7FF0000000000002).to_bytes(8, "little"))[0]
# Prometheus's scripts, copied verbatim with their origin and licence (testdata/README.md)
SCRIPTS = Path(__file__).resolve().parent / "testdata"

_UNUM = r"(?:[Ii]nf|NaN|nan|\d*\.?\d+(?:[eE][+-]?\d+)?|\d+\.)"
_ITEM = re.compile(rf"^([+-]?{_UNUM})(?:([+-])({_UNUM}))?x(\d+)$")


def is_stale(v: float) -> bool:
    return struct.pack("<d", v) == struct.pack("<d", STALE_NAN)


def parse_float(s: str) -> float:
    low = s.lower()
    if low in ("inf", "+inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low in ("nan", "+nan", "-nan"):
        return math.nan
    return float(s)


def parse_values(tokens: list[str], allow_durations: bool = False) -> list:
    """Expand a value sequence: floats, None for '_' (skipped position)."""
    out: list = []
    for tok in tokens:
        if tok == "_":
            out.append(None)
            continue
        if tok == "stale":
            out.append(STALE_NAN)
            continue
        m = re.fullmatch(r"_x(\d+)", tok)
        if m:
            out.extend([None] * int(m.group(1)))
            continue
        m = _ITEM.fullmatch(tok)
        if m:
            a = parse_float(m.group(1))
            n = int(m.group(4))
            if m.group(2):
                b = parse_float(m.group(3))
                if m.group(2) == "-":
                    b = -b
            else:
                b = 0.0
            v = a
            out.append(v)
            for _ in range(n):
                v += b
                out.append(v)
            continue
        if allow_durations and re.fullmatch(r"(\d+[a-z]+)+", tok):
            out.append(parse_duration(tok) / 1000.0)
            continue
        out.append(parse_float(tok))
    return out


def split_series_line(line: str) -> tuple[str, str]:
    if "{" in line.split(" ")[0].split("\t")[0] or line.startswith("{"):
        depth, q = 0, None
        i = 0
        while i < len(line):
            c = line[i]
            if q:
                if c == "\\":
                    i += 2
                    continue
                if c == q:
                    q = None
            elif c in "\"'`":
                q = c
            elif c == "}":
                return line[:i + 1], line[i + 1:].strip()
            i += 1
        raise ValueError(f"unterminated selector: {line}")
    parts = line.split(None, 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def parse_labels(selector: str) -> dict:
    """Labels of a series description: name{l="v", ...}; {} is the empty set."""
    toks = lex(selector)
    labels = {}
    i = 0
    if toks[0].typ in ("IDENTIFIER", "METRIC_IDENTIFIER") or toks[0].typ not in ("LEFT_BRACE", "EOF"):
        labels["__name__"] = toks[0].val
        i = 1
    if toks[i].typ == "LEFT_BRACE":
        i += 1
        while toks[i].typ != "RIGHT_BRACE":
            name = toks[i].val
            assert toks[i + 1].typ == "EQL", selector
            labels[name] = unquote(toks[i + 2].val)
            i += 3
            if toks[i].typ == "COMMA":
                i += 1
    return labels


@dataclass
class Eval:
    line: int
    kind: str  # instant | range
    expr: str
    time: int = 0
    start: int = 0
    end: int = 0
    step: int = 0
    fail: bool = False
    ordered: bool = False
    warn: bool = False
    fail_msg: str | None = None
    fail_regexp: str | None = None
    scalar: float | None = None
    expected: list = field(default_factory=list)  # [(labels dict, [values])]


@dataclass
class Load:
    line: int
    interval: int
    series: list  # [(labels dict, [values])]
    nhcb: bool = False


@dataclass
class Clear:
    line: int


def parse_script(text: str, version: str = "v2.42.0") -> list:
    lines = [l.strip() for l in text.split("\n")]
    lines = ["" if l.startswith("#") else l for l in lines]
    cmds = []
    i = 0
    modern = version != "v2.42.0"
    while i < len(lines):
        l = lines[i]
        if not l:
            i += 1
            continue
        word = l.split()[0].lower()
        if word == "clear":
            cmds.append(Clear(i + 1))
            i += 1
            continue
        if word.startswith("load"):
            m = re.match(r"^load(?:_(with_nhcb))?\s+(.+?)$", l, re.I)
            interval = parse_duration(m.group(2))
            series = []
            j = i + 1
            while j < len(lines) and lines[j]:
                sel, vals = split_series_line(lines[j])
                series.append((parse_labels(sel), vals))
                j += 1
            cmds.append(Load(i + 1, interval, series, bool(m.group(1))))
            i = j
            continue
        if word.startswith("eval"):
            m = re.match(r"^eval(?:_(fail|warn|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$", l)
            if m:
                ev = Eval(i + 1, "instant", m.group(3), time=parse_duration(m.group(2)))
                mod = m.group(1)
            else:
                m = re.match(r"^eval(?:_(fail|warn))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$", l)
                if not m:
                    raise ValueError(f"line {i + 1}: bad eval: {l}")
                ev = Eval(i + 1, "range", m.group(5), start=parse_duration(m.group(2)),
                          end=parse_duration(m.group(3)), step=parse_duration(m.group(4)))
                mod = m.group(1)
            ev.fail = mod == "fail"
            ev.ordered = mod == "ordered"
            ev.warn = mod == "warn"
            j = i + 1
            while j < len(lines) and lines[j]:
                el = lines[j]
                if el.startswith("expected_fail_message"):
                    ev.fail_msg = el[len("expected_fail_message"):].strip()
                    j += 1
                    break
                if el.startswith("expected_fail_regexp"):
                    ev.fail_regexp = el[len("expected_fail_regexp"):].strip()
                    j += 1
                    break
                try:
                    ev.scalar = float(int(el, 0))
                    j += 1
                    break
                except ValueError:
                    pass
                try:
                    ev.scalar = parse_float(el)
                    j += 1
                    break
                except ValueError:
                    pass
                sel, vals = split_series_line(el)
                if "{{" in vals:
                    ev.expected.append((parse_labels(sel), ["{{native histogram}}"]))
                else:
                    ev.expected.append((parse_labels(sel), parse_values(vals.split(), modern)))
                j += 1
            cmds.append(ev)
            i = j
            continue
        raise ValueError(f"line {i + 1}: unknown command {l}")
    return cmds


def almost_equal(a: float, b: float, modern: bool = False) -> bool:
    if modern and (is_stale(a) or is_stale(b)):
        return is_stale(a) and is_stale(b)
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    eps = 1e-6
    min_normal = 2.2250738585072014e-308
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < min_normal or (modern and abs(a) + abs(b) < min_normal):
        return diff < eps * min_normal
    return diff / min(abs(a) + abs(b), sys.float_info.max) < eps


def at_modifier_variants(expr: str, t: int) -> list:
    """Prometheus's atModifierTestCases: (expr with @ t on selectors, eval times)."""
    node = parse(expr)
    unsafe = False

    def visit(n, inside_at_subquery):
        nonlocal unsafe
        if isinstance(n, A.Call) and n.func.at_modifier_unsafe:
            unsafe = True
        if not inside_at_subquery:
            if isinstance(n, A.VectorSelector) and n.timestamp is None:
                n.timestamp = t
            elif isinstance(n, A.MatrixSelector) and n.vs.timestamp is None:
                n.vs.timestamp = t
            elif isinstance(n, A.SubqueryExpr) and n.timestamp is None:
                n.timestamp = t
        child_inside = inside_at_subquery or (isinstance(n, A.SubqueryExpr) and n.timestamp is not None)
        for c in A.children(n):
            visit(c, child_inside)

    visit(node, False)
    if unsafe:
        return []
    new = str(node)
    times = [-10 * t, 0, t // 5, t, 10 * t] if t != 0 else [-1000, 0, 1000]
    return [(new, et) for et in times]


class Backend:
    """Loads data and runs queries through a promscale database connection (psycopg)."""

    def __init__(self, conn):
        self.conn = conn

    def clear(self):
        self.conn.execute("TRUNCATE prom_data.sample")

    def load(self, cmd: Load, modern: bool):
        # a later value for the same series and time replaces the earlier one, as in Prometheus's test storage
        samples: dict = {}
        for labels, seq in cmd.series:
            if "{{" in seq:
                continue
            values = parse_values(seq.split(), modern)
            sid = self.conn.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)",
                                    (json.dumps(labels),)).fetchone()[0]
            for k, v in enumerate(values):
                if v is not None:
                    samples[(sid, k * cmd.interval)] = v
        ids = [sid for sid, _ in samples]
        times = [t / 1000.0 for _, t in samples]
        vals = list(samples.values())
        if ids:
            self.conn.execute(
                "SELECT prom_api.put_samples(%b::bigint[], "
                "ARRAY(SELECT pg_catalog.to_timestamp(x) FROM unnest(%b::float8[]) x), %b::float8[])",
                (ids, times, vals))

    def instant(self, expr: str, t_ms: int):
        rows = self.conn.execute("SELECT labels::text, value FROM prom_api.query(%s, pg_catalog.to_timestamp(%s))",
                                 (expr, t_ms / 1000.0)).fetchall()
        return [(json.loads(l), v) for l, v in rows]

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int):
        rows = self.conn.execute(
            "SELECT labels::text, extract(epoch FROM time)::float8, value FROM prom_api.query_range("
            "%s, pg_catalog.to_timestamp(%s), pg_catalog.to_timestamp(%s), make_interval(secs => %s))",
            (expr, start_ms / 1000.0, end_ms / 1000.0, step_ms / 1000.0)).fetchall()
        out: dict = {}
        for l, t, v in rows:
            out.setdefault(l, (json.loads(l), []))[1].append((round(t * 1000), v))
        return list(out.values())


class EvalFailure(Exception):
    pass


def compare(ev: Eval, result: list, modern: bool, ordered: bool):
    """result: [(labels, value)] of an instant evaluation."""
    if ev.scalar is not None:
        if len(result) != 1 or result[0][0]:
            raise EvalFailure(f"expected scalar {ev.scalar} but got {result}")
        if not almost_equal(ev.scalar, result[0][1], modern):
            raise EvalFailure(f"expected scalar {ev.scalar} but got {result[0][1]}")
        return
    expected = {json.dumps(l, sort_keys=True): (pos, vals) for pos, (l, vals) in enumerate(ev.expected)}
    got = {}
    for pos, (l, v) in enumerate(result):
        key = json.dumps(l, sort_keys=True)
        if key not in expected:
            raise EvalFailure(f"unexpected metric {key} in result (value {v})")
        exp_pos, vals = expected[key]
        if ordered and exp_pos != pos:
            raise EvalFailure(f"expected metric {key} at position {exp_pos + 1} but was at {pos + 1}")
        if not vals or not almost_equal(vals[0], v, modern):
            raise EvalFailure(f"expected {vals[:1]} for {key} but got {v}")
        got[key] = v
    for key in expected:
        if key not in got:
            raise EvalFailure(f"expected metric {key} with {expected[key][1]} not found")


def compare_range(ev: Eval, result: list, modern: bool):
    steps = list(range(ev.start, ev.end + 1, ev.step))
    expected = {json.dumps(l, sort_keys=True): vals for l, vals in ev.expected}
    seen = set()
    for labels, points in result:
        key = json.dumps(labels, sort_keys=True)
        if key not in expected:
            raise EvalFailure(f"unexpected series {key}")
        seen.add(key)
        exp = [(steps[i], v) for i, v in enumerate(expected[key]) if v is not None and i < len(steps)]
        if len(exp) != len(points):
            raise EvalFailure(f"expected {len(exp)} points for {key}, got {len(points)}: {points}")
        for (et, evv), (gt, gv) in zip(exp, points):
            if et != gt or not almost_equal(evv, gv, modern):
                raise EvalFailure(f"expected {(et, evv)} for {key}, got {(gt, gv)}")
    for key in expected:
        if key not in seen:
            raise EvalFailure(f"expected series {key} not found")


def run_eval(backend: Backend, ev: Eval, modern: bool):
    """Raises EvalFailure when the eval does not pass."""
    import psycopg

    if ev.kind == "range":
        try:
            res = backend.range(ev.expr, ev.start, ev.end, ev.step)
        except psycopg.Error as e:
            backend.conn.rollback() if not backend.conn.autocommit else None
            if ev.fail:
                _check_fail_msg(ev, e)
                return
            raise EvalFailure(f"error: {e.diag.message_primary}")
        if ev.fail:
            raise EvalFailure("expected error but got none")
        compare_range(ev, res, modern)
        return
    try:
        variants = at_modifier_variants(ev.expr, ev.time)
    except Exception as e:  # our parser rejects it: the eval can only pass if it must fail
        variants = []
        if not ev.fail:
            raise EvalFailure(f"parse error: {e}")
    queries = [(ev.expr, ev.time)] + variants
    for expr, t in queries:
        try:
            res = backend.instant(expr, t)
        except psycopg.Error as e:
            if ev.fail:
                if expr == ev.expr:
                    _check_fail_msg(ev, e)
                continue
            raise EvalFailure(f"error evaluating {expr!r} at {t}: {e.diag.message_primary}")
        if ev.fail:
            raise EvalFailure(f"expected error evaluating {expr!r} but got none")
        try:
            compare(ev, res, modern, ev.ordered)
        except EvalFailure as f:
            raise EvalFailure(f"{expr!r} at {t}ms: {f}") from None
        if ev.ordered:
            continue
        try:
            rng = backend.range(expr, t - 60000, t + 60000, 60000)
        except psycopg.Error as e:
            raise EvalFailure(f"error evaluating {expr!r} in range mode: {e.diag.message_primary}")
        vec = []
        for labels, points in rng:
            for pt, pv in points:
                if pt == t:
                    vec.append((labels, pv))
                    break
        if ev.scalar is not None and vec:
            vec = [({}, vec[0][1])]
        try:
            compare(ev, vec, modern, False)
        except EvalFailure as f:
            raise EvalFailure(f"{expr!r} at {t}ms in range mode: {f}") from None


def _check_fail_msg(ev: Eval, e):
    msg = e.diag.message_primary or ""
    if ev.fail_msg is not None and msg != ev.fail_msg:
        raise EvalFailure(f"expected error {ev.fail_msg!r}, got {msg!r}")
    if ev.fail_regexp is not None and not re.search(ev.fail_regexp, msg):
        raise EvalFailure(f"expected error matching {ev.fail_regexp!r}, got {msg!r}")


def run_script(conn, path: Path, version: str, skip=None):
    """Run one script; returns (passed, failures [(line, expr, message)], skipped)."""
    modern = version != "v2.42.0"
    cmds = parse_script(path.read_text(), version)
    backend = Backend(conn)
    backend.clear()
    passed, failures, skipped = 0, [], 0
    nh_names: set = set()
    for cmd in cmds:
        if isinstance(cmd, Clear):
            backend.clear()
            nh_names.clear()
        elif isinstance(cmd, Load):
            for labels, seq in cmd.series:
                if "{{" in seq:
                    nh_names.add(labels.get("__name__", ""))
            if cmd.nhcb:
                for labels, seq in cmd.series:
                    base = re.sub(r"_(bucket|count|sum)$", "", labels.get("__name__", ""))
                    nh_names.add(base)
            backend.load(cmd, modern)
        else:
            if skip and skip(cmd, nh_names):
                skipped += 1
                continue
            try:
                run_eval(backend, cmd, modern)
                passed += 1
            except EvalFailure as f:
                failures.append((cmd.line, cmd.expr, str(f)))
    return passed, failures, skipped


def float_only(cmd: Eval, nh_names: set) -> bool:
    """True when an eval needs native histograms (to skip it in v2.55.1)."""
    if any("{{" in str(v) for _, v in cmd.expected):
        return True
    if re.search(r"histogram_(count|sum|fraction|avg|stddev|stdvar)", cmd.expr):
        return True
    for name in nh_names:
        if name and re.search(rf"\b{re.escape(name)}\b", cmd.expr):
            return True
    return False


def main(argv=None):
    """python tests/promql/promqltest.py DB_URI VERSION [FILE...]: run scripts and print pass counts."""
    import psycopg

    argv = argv or sys.argv[1:]
    uri, version = argv[0], argv[1]
    files = [SCRIPTS / version / f for f in argv[2:]] or sorted(
        f for f in (SCRIPTS / version).glob("*.test") if f.name != "native_histograms.test")
    total_p = total_f = total_s = 0
    for f in files:
        with psycopg.connect(uri, autocommit=True) as conn:
            p, fails, s = run_script(conn, f, version, float_only if version != "v2.42.0" else None)
        total_p += p
        total_f += len(fails)
        total_s += s
        print(f"{f.name}: {p} passed, {len(fails)} failed, {s} skipped")
        for line, expr, msg in fails:
            print(f"  line {line}: {expr}\n      {msg[:400]}")
    print(f"TOTAL: {total_p} passed, {total_f} failed, {total_s} skipped")


if __name__ == "__main__":
    main()
