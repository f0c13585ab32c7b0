"""Differential testing against Prometheus: the dataset both sides receive, the generated
query set, and the comparison of two API responses (values within 1e-5 relative, exact
timestamps and label sets)."""

from __future__ import annotations

import math
import random
from typing import Any

from support.remote_write import STALE_NAN

STEP_MS = 15_000


def dataset(start_ms: int, points: int, seed: int = 42) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """Counters with resets, gauges, histogram buckets, a series that goes stale and a sparse one."""
    rnd = random.Random(seed)
    out = []
    times = [start_ms + STEP_MS * i for i in range(points)]
    for job in ("api", "web"):
        for instance in ("a", "b", "c"):
            for code in ("200", "500"):
                value, samples = rnd.random() * 100, []
                for i, t in enumerate(times):
                    value += rnd.random() * (10 if code == "200" else 1)
                    if i == points // 2 and instance == "b":
                        value = rnd.random()  # a counter reset
                    samples.append((t, round(value, 3)))
                out.append(({"__name__": "http_requests_total", "job": job, "instance": instance, "code": code},
                            samples))
            out.append(({"__name__": "node_temperature", "job": job, "instance": instance},
                        [(t, round(20 + 10 * math.sin(i / 17 + rnd.random()) + rnd.random(), 4))
                         for i, t in enumerate(times)]))
    for job in ("api", "web"):
        counts = [0.0] * 5
        bucket_samples: dict[str, list] = {le: [] for le in ("0.1", "0.5", "1", "5", "+Inf")}
        for t in times:
            for k in range(5):
                counts[k] += rnd.randint(0, 5)
            running = 0.0
            for k, le in enumerate(bucket_samples):
                running += counts[k]
                bucket_samples[le].append((t, running))
        for le, samples in bucket_samples.items():
            out.append(({"__name__": "request_duration_seconds_bucket", "job": job, "le": le}, samples))
    # goes stale at two thirds: Prometheus's staleness handling must match
    stale_at = points * 2 // 3
    out.append(({"__name__": "batch_progress", "job": "batch"},
                [(t, float(i)) for i, t in enumerate(times[:stale_at])] + [(times[stale_at], STALE_NAN)]))
    # irregular and sparse: gaps longer than the lookback delta
    out.append(({"__name__": "sparse_gauge", "job": "batch"},
                [(t + rnd.randint(0, 9000), float(rnd.randint(-5, 5))) for i, t in enumerate(times) if i % 29 < 3]))
    return out


RANGES = ["1m", "5m", "10m"]
OVER_TIME = ["avg", "min", "max", "sum", "count", "stddev", "stdvar", "last", "present"]
RATE_FUNCS = ["rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"]
MATH = ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "round", "sin", "cos", "tan", "asin",
        "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad"]
TIME_FUNCS = ["minute", "hour", "day_of_week", "day_of_month", "day_of_year", "days_in_month", "month", "year"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
BINOPS = ["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="]
C, G, B = "http_requests_total", "node_temperature", "request_duration_seconds_bucket"


def queries() -> list[str]:
    q: list[str] = [C, G, f'{C}{{code="500"}}', f'{C}{{instance=~"a|b",code!="200"}}', f'{{__name__=~"node_.*"}}',
                    "batch_progress", "sparse_gauge", f"{G} offset 5m", f"{G} offset -5m", "time()", "vector(time())",
                    "pi()", "1 + 2 * 3", "-(2 ^ 3 ^ 2)", 'absent(nonexistent{job="x"})', "absent(node_temperature)",
                    f"scalar(sum({G}))", f"timestamp({G})", f"sort({G})", f"sort_desc({C})",
                    f'label_replace({G}, "host", "$1-x", "instance", "(.*)")',
                    f'label_join({G}, "id", "/", "job", "instance")', f"{G} @ end()", f"{G} @ start()"]
    for r in RANGES:
        for f in RATE_FUNCS:
            q.append(f"{f}({C}[{r}])")
        for f in OVER_TIME:
            q.append(f"{f}_over_time({G}[{r}])")
        q += [f"quantile_over_time(0.3, {G}[{r}])", f"absent_over_time(nonexistent[{r}])",
              f"predict_linear({G}[{r}], 600)", f"holt_winters({G}[{r}], 0.3, 0.6)",
              f"rate({C}[{r}] offset 2m)", f"avg_over_time(sparse_gauge[{r}])", f"count_over_time(batch_progress[{r}])"]
    for f in MATH:
        q.append(f"{f}({G} / 40)")
    for f in TIME_FUNCS:
        q += [f"{f}()", f"{f}(timestamp({G}))"]
    q += [f"clamp({G}, 22, 28)", f"clamp_min({G}, 25)", f"clamp_max({G}, 25)", f"round({G}, 0.5)"]
    for agg in AGGS:
        q += [f"{agg}({C})", f"{agg} by (job) ({C})", f"{agg} without (instance) (rate({C}[5m]))"]
    q += [f"topk(2, {G})", f"bottomk(2, rate({C}[5m]))", f"topk by (job) (1, {G})",
          f"quantile(0.9, {G})", f"quantile by (job) (0.25, rate({C}[5m]))",
          f'count_values("v", round({G}))', f'count_values by (job) ("v", ceil({G} / 10))']
    for op in BINOPS:
        q += [f"{G} {op} 25", f"30 {op} {G}", f"rate({C}[5m]) {op} on (job, instance) group_left {G}"]
    for op in ("==", "!=", ">", "<"):
        q += [f"{G} {op} bool 25", f"sum by (job) ({G}) {op} bool on (job) avg by (job) ({G})"]
    q += [f"{C} and {C}{{code='200'}}", f"{C} or {G}", f"{C} unless on (instance) {G}{{instance='a'}}",
          f"sum by (instance) ({C}) / ignoring (code) group_left sum by (instance, code) ({C})",
          f"{G} > on (job, instance) group_right {G} - 1"]
    for r in ["1m", "5m"]:
        q += [f"histogram_quantile(0.9, rate({B}[{r}]))", f"histogram_quantile(0.5, sum by (le) (rate({B}[{r}])))",
              f"histogram_quantile(0.99, sum by (job, le) (increase({B}[{r}])))"]
    q += [f"max_over_time(rate({C}[1m])[10m:1m])", f"avg_over_time({G}[5m:30s])", f"rate({C}[5m:])",
          f"min_over_time(sum by (job) ({G})[15m:2m] offset 1m)", f"sum(rate({C}[5m])) by (job)",
          f"sum(rate({C}{{code=~'5..'}}[5m])) / sum(rate({C}[5m]))"]
    # edges: offsets and @ on ranges, division by zero, empty groupings, odd parameters
    q += [f"rate({C}[5m] offset -3m)", f"avg_over_time({G}[5m] offset 30m)", f"{G} offset 1h",
          f"rate({C}[5m] @ end())", f"sum_over_time({G}[10m] @ start() offset 1m)",
          f"max_over_time(deriv({G}[5m])[20m:1m] offset 5m)", f"avg_over_time(rate({C}[2m])[7m:45s])",
          f"{G} / 0", f"-{G} / 0", "0 / 0", f"-{G} % 7", f"{G} atan2 {G}", f"{G} ^ 0.5", "1 > bool 2", "2 >= 1",
          f"scalar({G}) * 2", f"scalar(sum by (job) ({G}))", f"time() - timestamp({G})", f"-{G}", f"+{G}",
          '"a string"', f"sum by (nonexistent) ({G})", f"topk(0, {G})", f"quantile(2, {G})", f"quantile(-1, {G})",
          f"topk(scalar(count({G})), {G})", f"count_values(\"le\", {B})", f"holt_winters({C}[10m], 0.1, 0.9)",
          f"deriv({C}[10m])", f"changes({G}[10m])", f"resets({G}[10m])", f"timestamp(rate({C}[5m]))",
          f'label_replace({G}, "job", "", "job", ".*")', f'label_replace({G}, "x", "$2", "instance", "(a)|(b)")',
          f'label_join({G}, "__name__", "_", "job")', f"sort_desc(sum by (job) (rate({C}[5m])))",
          f"absent_over_time({G}[5m])", f"absent_over_time(nonexistent[5m] offset 10m)",
          f"present_over_time(sparse_gauge[1m])", f"last_over_time(batch_progress[10m])",
          f"increase(batch_progress[5m])", f"batch_progress + 0", f"count(batch_progress)",
          f"{G} and on () vector(1)", f"vector(1) or {G}", f"{G} unless {G}", f"group by (job) ({C})",
          f"stddev by (job) ({G}) > bool 1", f"max by (instance) (rate({C}[5m])) * on (instance) group_right sum by "
          f"(instance, job) ({G})", f"predict_linear({C}[10m], -300)", f"histogram_quantile(0, rate({B}[5m]))",
          f"histogram_quantile(1, rate({B}[5m]))", f"histogram_quantile(NaN, rate({B}[5m]))",
          f"histogram_quantile(0.5, {B})", f"clamp({G}, 30, 20)", f"round(-{G}, 3)", "vector(1) + vector(2)",
          f"{G} == bool {G}", f"exp({G} * 100)", f"ln(-{G})", f"sqrt(-{G})"]
    return list(dict.fromkeys(q))  # unique, in order


def _close(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-5 * max(abs(x), abs(y)) or abs(x - y) < 1e-12


def _key(metric: dict[str, str]) -> tuple:
    return tuple(sorted(metric.items()))


def difference(expected: dict[str, Any], got: dict[str, Any], ordered: bool = False) -> str | None:
    """Why two Prometheus API responses differ (None when they agree)."""
    if expected.get("status") != got.get("status"):
        return f"status {got.get('status')} ({got.get('error')}) where Prometheus says {expected.get('status')} " \
               f"({expected.get('error')})"
    if expected["status"] != "success":
        return None if expected.get("errorType") == got.get("errorType") else \
            f"errorType {got.get('errorType')} where Prometheus says {expected.get('errorType')}"
    e, g = expected["data"], got["data"]
    if e["resultType"] != g["resultType"]:
        return f"resultType {g['resultType']} where Prometheus says {e['resultType']}"
    kind = e["resultType"]
    if kind in ("scalar", "string"):
        if e["result"][0] != g["result"][0] or not _close(e["result"][1], g["result"][1]):
            return f"{g['result']} where Prometheus says {e['result']}"
        return None
    field = "value" if kind == "vector" else "values"
    if ordered and kind == "vector":
        if [_key(s["metric"]) for s in e["result"]] != [_key(s["metric"]) for s in g["result"]]:
            return "series order differs"
    ours = {_key(s["metric"]): s for s in g["result"]}
    theirs = {_key(s["metric"]): s for s in e["result"]}
    if ours.keys() != theirs.keys():
        missing = [dict(k) for k in theirs.keys() - ours.keys()][:3]
        extra = [dict(k) for k in ours.keys() - theirs.keys()][:3]
        return f"label sets differ: missing {missing}, extra {extra} ({len(ours)} vs {len(theirs)} series)"
    for key, series in theirs.items():
        points_e = [series[field]] if kind == "vector" else series[field]
        points_g = [ours[key][field]] if kind == "vector" else ours[key][field]
        if [p[0] for p in points_e] != [p[0] for p in points_g]:
            te, tg = [p[0] for p in points_e], [p[0] for p in points_g]
            return f"timestamps differ for {dict(key)}: {len(tg)} points vs {len(te)}; first diff at " \
                   f"{next((i for i, (a, b) in enumerate(zip(te, tg)) if a != b), min(len(te), len(tg)))}"
        for pe, pg in zip(points_e, points_g):
            if not _close(pe[1], pg[1]):
                return f"value at {pe[0]} for {dict(key)}: {pg[1]} where Prometheus says {pe[1]}"
    return None
