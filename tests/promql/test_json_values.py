"""A range query's JSON values written by orjson in one call (promql/api.py value_texts,
matrix_json) are the text Prometheus writes (fast_value, gofmt.format_sample_value), point for
point, whatever the magnitude, sign, NaN or Inf, and whichever points are present."""

from __future__ import annotations

import numpy as np

from promscale.httpapi.gojson import json_ts
from promscale.promql.api import fast_value, json_metric, json_points, matrix_json, value_texts


def adversarial(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([
        rng.normal(size=20000) * 10.0 ** rng.integers(-30, 30, 20000),
        np.round(rng.normal(size=5000) * 1000, 2),
        rng.integers(-10**6, 10**6, 5000).astype(float),
        [0.0, -0.0, 1e16, 1e15, 9.999999999999999e15, 1e-4, 9.99e-5, 1e-6, 9.9e-7, 1e21, 1e20, 2.0**53, 2.0**63,
         123456789012345678.0, np.nan, np.inf, -np.inf, 5e-324, -1.7976931348623157e308, 0.1 + 0.2]])


def test_value_texts_are_prometheus_text():
    rng = np.random.default_rng(0)
    values = adversarial(rng)
    assert value_texts(values) == [fast_value(v) for v in values.tolist()]
    plain = np.round(rng.uniform(0, 1e6, 10000), 3)  # no exponent nor NaN: the one-split path
    assert value_texts(plain) == [fast_value(v) for v in plain.tolist()]


def test_matrix_json_equals_the_point_by_point_text():
    rng = np.random.default_rng(1)
    steps = 50
    tstrs = [json_ts(t) for t in (1_700_000_000_000 + np.arange(steps) * 1500).tolist()]
    labels = [(("instance", f"h{i % 7}"), ("job", f"j{i}")) for i in range(12)]
    vals = rng.normal(size=(12, steps)) * 10.0 ** rng.integers(-8, 22, (12, 1))
    vals[3, 5] = np.nan
    mask = rng.random((12, steps)) < 0.7
    mask[0] = True
    mask[1] = False
    mask[2] = False
    mask[2, -1] = True
    want = []
    for i in sorted(range(12), key=lambda i: labels[i]):
        if mask[i].any():
            idx = np.flatnonzero(mask[i]).tolist()
            pts = json_points([tstrs[j] for j in idx], vals[i][mask[i]].tolist())
            want.append(f'{{"metric":{json_metric(labels[i])},"values":[{pts}]}}')
    assert matrix_json(labels, vals, mask, tstrs) == "[" + ",".join(want) + "]"
    assert matrix_json(labels, vals, np.zeros_like(mask), tstrs) == "[]"
