"""The C query kernels (src/query_kernels.c, promql/kernels.py) against the NumPy code they stand
for, in the database where they run: the same bits on adversarial data (counter resets, NaN,
infinities, -0, one-point and empty windows, rollups' raw values and counts, uneven series), and
the same JSON body. Both paths run in one session: the kernels' library is unloaded for the NumPy
runs by clearing the module's handle."""

from __future__ import annotations

import pytest

_CHECK = r"""
CREATE FUNCTION pg_temp.kernel_mismatches(seed int) RETURNS text[] LANGUAGE plpython3u AS $py$
import numpy as np
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
module = GD["promscale"].module
kernels = module(plpy, "promscale.promql.kernels")
values = module(plpy, "promscale.promql.values")
windows = module(plpy, "promscale.promql.functions.windows")
api = module(plpy, "promscale.promql.api")
read = module(plpy, "promscale.rollup.read")
kernels.load(plpy)
if not kernels.loaded():
    return ["the kernels did not load"]
library = kernels._library

def numpy_path(fn):
    kernels._library = False
    try:
        return fn()
    finally:
        kernels._library = library

rng = np.random.default_rng(seed)
problems = []
for case in range(40):
    n_series = int(rng.integers(16, 60))
    from_rollups = rng.random() < 0.5  # rate reads raw values and counts when every series has them
    series = []
    for k in range(n_series):
        n = int(rng.choice([0, 1, 2, 3, int(rng.integers(4, 200))]))
        t = np.sort(rng.choice(np.arange(0, 100_000, 7), size=n, replace=False)).astype(np.int64)
        v = np.cumsum(rng.choice([0.0, 0.5, 1.0, 3.25, 1e-3], size=n)) + float(rng.choice([0.0, -5.0, 1e15]))
        if n and rng.random() < 0.5:  # counter resets
            cut = int(rng.integers(0, n))
            v[cut:] -= v[cut] - float(rng.choice([0.0, 0.25, 2.0]))
        if n and rng.random() < 0.2:
            v[int(rng.integers(0, n))] = rng.choice([np.nan, np.inf, -np.inf, -0.0])
        if from_rollups:
            raw = v + rng.choice([0.0, 1.0], size=n)
            cnt = np.cumsum(rng.integers(1, 5, size=n)).astype(np.int64)
            series.append(values.RollupRangeSeries((("k", str(k)),), t, v, raw, cnt))
        else:
            series.append(values.RangeSeries((("k", str(k)),), t, v))
    step = int(rng.choice([1, 7, 500, 3000]))
    ref = np.arange(int(rng.integers(-1000, 5000)), 100_000, step, dtype=np.int64)[:int(rng.integers(1, 400))]
    rng_ms = int(rng.choice([1, 7, 1000, 6000, 60_000]))
    def bounds():
        mat = values.Matrix(series, ref, rng_ms)
        return mat, mat.window_bounds()
    km, kb = bounds()
    nm, nb = numpy_path(bounds)
    if not (np.array_equal(kb[0], nb[0]) and np.array_equal(kb[1], nb[1])):
        problems.append(f"case {case}: window bounds differ")
        continue
    for is_counter, is_rate in ((True, True), (True, False), (False, False)):
        kv, kok = windows.extrapolated_rate(km, list(zip(*kb)), is_counter, is_rate)
        nv, nok = numpy_path(lambda: windows.extrapolated_rate(nm, list(zip(*nb)), is_counter, is_rate))
        if not np.array_equal(kok, nok):
            problems.append(f"case {case} counter={is_counter} rate={is_rate}: the windows with a result differ")
        elif not np.array_equal(kv[kok].view(np.int64), nv[nok].view(np.int64)):
            problems.append(f"case {case} counter={is_counter} rate={is_rate}: values differ in their bits")
    vals = rng.choice([0.0, -0.0, 1.0, 2.5, 1e-5, 123456.789, 1e17, 1 / 3, -7.0], size=(n_series, len(ref)))
    mask = rng.random((n_series, len(ref))) < 0.7
    labels = [(("k", str(k)), ("v", "é\"\\\n☃" * (k % 3))) for k in range(n_series)]  # escapes, UTF-8
    warnings = [] if case % 2 else ["a warning"]
    kj = api.matrix_body(labels, vals, mask, ref, warnings)
    nj = numpy_path(lambda: api.matrix_body(labels, vals, mask, ref, warnings))
    if kj != nj:
        problems.append(f"case {case}: matrix JSON differs")
    # values without an exponent, NaN or infinity: the kernel writes the body
    plain = rng.choice([0.0, 1.0, 2.5, 123456.789, 1 / 3, -7.0, 1e15 + 0.5], size=(n_series, len(ref)))
    if mask.any() and api._kernel_matrix_body(labels, plain, mask, ref, "{", "}") is None:
        problems.append(f"case {case}: the kernel did not write plain values")
    if api.matrix_body(labels, plain, mask, ref, warnings) != numpy_path(
            lambda: api.matrix_body(labels, plain, mask, ref, warnings)):
        problems.append(f"case {case}: matrix JSON of plain values differs")
return problems
$py$;
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_give_the_numpy_code_bits(db, seed):
    db.execute(_CHECK)
    assert db.execute("SELECT pg_temp.kernel_mismatches(%s)", (seed,)).fetchone()[0] == []


def test_kernels_library_is_this_build(db):
    abi, path = db.execute("SELECT _prom_catalog.query_kernels_library()").fetchone()[0].split(" ", 1)
    assert abi == "1" and path.endswith("promscale.so")
