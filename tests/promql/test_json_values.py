"""A range query's JSON values written by orjson in one call (promql/api.py value_texts,
matrix_json) are the text Prometheus writes (fast_value, gofmt.format_sample_value), point for
point, whatever the magnitude, sign, NaN or Inf, and whichever points are present."""

from __future__ import annotations

import numpy as np
import pytest

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


def expected_matrix(labels, vals, mask, ts_ms) -> str:
    tstrs = [json_ts(t) for t in ts_ms.tolist()]
    want = []
    for i in sorted(range(len(labels)), key=lambda i: labels[i]):
        if mask[i].any():
            idx = np.flatnonzero(mask[i]).tolist()
            pts = json_points([tstrs[j] for j in idx], vals[i][mask[i]].tolist())
            want.append(f'{{"metric":{json_metric(labels[i])},"values":[{pts}]}}')
    return "[" + ",".join(want) + "]"


@pytest.mark.parametrize("step_ms", [1500, 3_600_000])
def test_matrix_json_equals_the_point_by_point_text(step_ms):
    rng = np.random.default_rng(1)
    steps = 50
    ts_ms = 1_700_000_000_000 + np.arange(steps, dtype=np.int64) * step_ms
    labels = [(("instance", f"h{i % 7}"), ("job", f"j{i}")) for i in range(12)]
    for scale in (rng.integers(-8, 22, (12, 1)), rng.integers(-3, 8, (12, 1))):
        vals = rng.normal(size=(12, steps)) * 10.0 ** scale
        vals[4] = np.round(vals[4])
        vals[5] = np.round(vals[5], 1)
        vals[6, ::3] = -0.0
        full = np.ones((12, steps), dtype=bool)
        assert matrix_json(labels, vals, full, ts_ms) == expected_matrix(labels, vals, full, ts_ms)
        vals[3, 5] = np.nan
        assert matrix_json(labels, vals, full, ts_ms) == expected_matrix(labels, vals, full, ts_ms)
        mask = rng.random((12, steps)) < 0.7
        mask[0] = True
        mask[1] = False
        mask[2] = False
        mask[2, -1] = True
        assert matrix_json(labels, vals, mask, ts_ms) == expected_matrix(labels, vals, mask, ts_ms)
    assert matrix_json(labels, vals, np.zeros_like(mask), ts_ms) == "[]"
    # a dashboard's answer: every point, plain values (no NaN nor exponent: the one-split path)
    vals = np.round(rng.uniform(0, 1000, (12, steps)), 3)
    full = np.ones((12, steps), dtype=bool)
    assert matrix_json(labels, vals, full, ts_ms) == expected_matrix(labels, vals, full, ts_ms)
