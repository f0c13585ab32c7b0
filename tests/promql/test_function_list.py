"""The PromQL function registry (extension/promscale/promql/functions/) against Prometheus 2.42,
as Prometheus's TestFunctionList checks its parser's list against its engine's:

- the registry holds exactly Prometheus 2.42's functions, with their signatures (both ways: no
  function missing, none extra);
- every registered function has an implementation, every family module registers functions,
  and the engine evaluates each one through SQL;
- the real 2.42 parser (promtool) accepts and rejects the same calls as ours;
- the flags agree with behaviour (keeps_metric_name) and with Prometheus (at_modifier_unsafe).
"""

from __future__ import annotations

import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promscale.promql import functions
from promscale.promql.ast import MATRIX, SCALAR, STRING, VECTOR
from promscale.promql.functions import FUNCTIONS
from promscale.promql.parser import ParseError, parse
from test_sql_api import load

V, M, S, STR = VECTOR, MATRIX, SCALAR, STRING

# Prometheus v2.42.0, promql/parser/functions.go `Functions`: name -> (ArgTypes, Variadic,
# ReturnType). Experimental functions came later (2.47), so none of these is experimental.
PROMETHEUS_2_42 = {
    "abs": ([V], 0, V), "absent": ([V], 0, V), "absent_over_time": ([M], 0, V),
    "acos": ([V], 0, V), "acosh": ([V], 0, V), "asin": ([V], 0, V), "asinh": ([V], 0, V),
    "atan": ([V], 0, V), "atanh": ([V], 0, V), "avg_over_time": ([M], 0, V), "ceil": ([V], 0, V),
    "changes": ([M], 0, V), "clamp": ([V, S, S], 0, V), "clamp_max": ([V, S], 0, V),
    "clamp_min": ([V, S], 0, V), "cos": ([V], 0, V), "cosh": ([V], 0, V),
    "count_over_time": ([M], 0, V), "days_in_month": ([V], 1, V), "day_of_month": ([V], 1, V),
    "day_of_week": ([V], 1, V), "day_of_year": ([V], 1, V), "deg": ([V], 0, V),
    "delta": ([M], 0, V), "deriv": ([M], 0, V), "exp": ([V], 0, V), "floor": ([V], 0, V),
    "histogram_count": ([V], 0, V), "histogram_sum": ([V], 0, V),
    "histogram_fraction": ([S, S, V], 0, V), "histogram_quantile": ([S, V], 0, V),
    "holt_winters": ([M, S, S], 0, V), "hour": ([V], 1, V), "idelta": ([M], 0, V),
    "increase": ([M], 0, V), "irate": ([M], 0, V),
    "label_replace": ([V, STR, STR, STR, STR], 0, V), "label_join": ([V, STR, STR, STR], -1, V),
    "last_over_time": ([M], 0, V), "ln": ([V], 0, V), "log10": ([V], 0, V), "log2": ([V], 0, V),
    "max_over_time": ([M], 0, V), "min_over_time": ([M], 0, V), "minute": ([V], 1, V),
    "month": ([V], 1, V), "pi": ([], 0, S), "predict_linear": ([M, S], 0, V),
    "present_over_time": ([M], 0, V), "quantile_over_time": ([S, M], 0, V), "rad": ([V], 0, V),
    "rate": ([M], 0, V), "resets": ([M], 0, V), "round": ([V, S], 1, V), "scalar": ([V], 0, S),
    "sgn": ([V], 0, V), "sin": ([V], 0, V), "sinh": ([V], 0, V), "sort": ([V], 0, V),
    "sort_desc": ([V], 0, V), "sqrt": ([V], 0, V), "stddev_over_time": ([M], 0, V),
    "stdvar_over_time": ([M], 0, V), "sum_over_time": ([M], 0, V), "tan": ([V], 0, V),
    "tanh": ([V], 0, V), "time": ([], 0, S), "timestamp": ([V], 0, V), "vector": ([S], 0, V),
    "year": ([V], 1, V),
}

# functions of later Prometheus versions implemented here, same form (with their version in a
# comment); the real 2.42 parser must not know them
LATER: dict = {}
DECLARED = {**PROMETHEUS_2_42, **LATER}

# Prometheus v2.42.0, promql/engine.go `AtModifierUnsafeFunctions`
AT_MODIFIER_UNSAFE_2_42 = {"days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute",
                           "month", "year", "predict_linear", "time", "timestamp"}

# modules of the package that hold no PromQL function
NOT_FAMILIES = {"registry", "windows"}


def test_the_registry_holds_prometheus_2_42s_functions_both_ways():
    missing = sorted(set(DECLARED) - set(FUNCTIONS))
    extra = sorted(set(FUNCTIONS) - set(DECLARED))
    assert (missing, extra) == ([], []), "missing from the registry / in neither Prometheus 2.42 nor LATER"
    assert not set(PROMETHEUS_2_42) & set(LATER)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_signature_is_prometheus_s(name):
    fn = FUNCTIONS[name]
    args, variadic, returns = DECLARED[name]
    assert (fn.name, list(fn.arg_types), fn.variadic, fn.return_type) == (name, args, variadic, returns)
    if name in PROMETHEUS_2_42:
        assert not fn.experimental  # 2.42 had no experimental functions
    assert fn.takes_range_vector == (MATRIX in args)


def test_at_modifier_unsafe_functions_are_prometheus_2_42s():
    assert {name for name, fn in FUNCTIONS.items() if fn.at_modifier_unsafe} == AT_MODIFIER_UNSAFE_2_42


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_registered_function_has_an_implementation(name):
    impl = FUNCTIONS[name].implementation
    assert callable(impl), impl
    inspect.signature(impl).bind("evaluator", "call", "steps")  # (ev, call, ts), nothing more


def test_every_family_module_is_imported_by_the_package_and_registers_functions():
    """A family module the package forgets to import would silently register nothing."""
    modules = {m.name for m in pkgutil.iter_modules(functions.__path__)}
    families = modules - NOT_FAMILIES
    assert families, modules
    registering = {FUNCTIONS[name].implementation.__module__.rsplit(".", 1)[1] for name in FUNCTIONS}
    assert registering == families, "family modules that register nothing, or that the package does not import"


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="rate is registered twice"):
        functions.function("rate", [MATRIX])(lambda ev, call, ts: None)
    assert FUNCTIONS["rate"].implementation.__module__.endswith(".rates")


def test_the_parser_does_not_import_the_engine():
    code = ("import sys, promscale.promql.parser as p; p.parse('rate(x[1m])'); "
            "print(sorted(m for m in sys.modules if m.startswith('promscale.promql.')))")
    extension_dir = Path(functions.__file__).resolve().parents[3]  # extension/promscale/promql/functions
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(extension_dir)), cwd=extension_dir).stdout
    assert "promscale.promql.functions.rates" in out, out
    assert "promscale.promql.engine" not in out, out


# --- the real Prometheus 2.42 parser (promtool) and ours accept and reject the same calls

ARGUMENT = {VECTOR: "up", MATRIX: "up[1m]", SCALAR: "0.5", STRING: '"job"'}
# an argument of another type than the declared one
WRONG = {VECTOR: "0.5", MATRIX: "up", SCALAR: "up", STRING: "0.5"}


def calls(name: str) -> list[str]:
    """Calls of ``name``: fewest and most arguments allowed, one fewer and one more, and each
    argument of the wrong type."""
    fn = FUNCTIONS[name]
    types = list(fn.arg_types)
    required = types[:-1] if fn.variadic else types
    if fn.variadic > 0:
        longest = types + types[-1:] * (fn.variadic - 1)
    elif fn.variadic < 0:
        longest = types + types[-1:] * 2
    else:
        longest = types
    shapes = [required, longest, required[:-1], longest + [longest[-1] if longest else SCALAR]]
    out = []
    for shape in shapes:
        out.append([ARGUMENT[t] for t in shape])
        for i, t in enumerate(shape):
            out.append([WRONG[u] if j == i else ARGUMENT[u] for j, u in enumerate(shape)])
    return sorted({f"{name}({', '.join(args)})" for args in out})


def promtool_errors(queries: list[str], tmp_path) -> dict[str, str]:
    """query -> parse error of Prometheus 2.42's parser ("" when it accepts the query)."""
    rules = tmp_path / "rules.yml"
    lines = ["groups:", "- name: function_list", "  rules:"]
    for i, q in enumerate(queries):
        lines += [f"  - record: r{i}", f"    expr: '{q.replace(chr(39), chr(39) * 2)}'"]
    rules.write_text("\n".join(lines) + "\n")
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    proc = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    errors = {m.group(1): m.group(2) for m in
              re.finditer(r'"(r\d+)": could not parse expression: (.*)$', proc.stdout + proc.stderr, re.M)}
    assert proc.returncode == (1 if errors else 0), proc.stdout + proc.stderr
    return {q: errors.get(f"r{i}", "") for i, q in enumerate(queries)}


def our_error(query: str) -> str:
    try:
        parse(query)
    except ParseError as e:
        return str(e)
    return ""


def test_promtool_reports_an_unknown_function(tmp_path):
    """The comparison below can fail: promtool does reject what its parser does not know."""
    q = "no_such_function(up)"
    unknown = '1:1: parse error: unknown function with name "no_such_function"'
    assert promtool_errors([q], tmp_path) == {q: our_error(q)} == {q: unknown}


def test_our_parser_accepts_and_rejects_the_calls_prometheus_2_42_does(tmp_path):
    """Functions of LATER versions are unknown to 2.42: each of their calls gets that error there."""
    queries = [(name, q) for name in sorted(FUNCTIONS) for q in calls(name)]
    theirs = promtool_errors([q for _, q in queries], tmp_path)
    assert sum(1 for e in theirs.values() if e == "") >= len(PROMETHEUS_2_42)  # every function has a valid call
    expected = {q: f'1:1: parse error: unknown function with name "{name}"' if name in LATER else our_error(q)
                for name, q in queries}
    differ = {q: (theirs[q], expected[q]) for q in theirs if theirs[q] != expected[q]}
    assert differ == {}, "query: (Prometheus 2.42's error, ours)"


# --- every function evaluates through the extension, with the metric name as declared

# arguments of each declared type; strings that label_replace and label_join accept
EVAL_ARGUMENT = {VECTOR: "up", MATRIX: "up[1m]", SCALAR: "0.5"}
# empty for this data: "up" exists, and it is no histogram
EMPTY = {"absent", "absent_over_time", "histogram_count", "histogram_sum", "histogram_fraction", "histogram_quantile"}
STRINGS = {"label_replace": ['"dst"', '"$1"', '"job"', '"(.*)"'], "label_join": ['"dst"', '","', '"job"']}


def query(name: str) -> str:
    declared = FUNCTIONS[name].arg_types
    strings = iter(STRINGS.get(name, []))
    args = [next(strings) if t == STRING else EVAL_ARGUMENT[t] for t in declared]
    return f"{name}({', '.join(args)})"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_registered_function_is_evaluated(db, name):
    load(db, {'{"__name__": "up", "job": "a"}': [1.0, 0.0, 1.0, 1.0, 2.0, 3.0, 0.5, 1.0, 1.0]})
    rows = db.execute("SELECT labels FROM prom_api.query_range(%s, to_timestamp(60), to_timestamp(120), '15 seconds')",
                      (query(name),)).fetchall()
    assert (len(rows) > 0) == (name not in EMPTY), rows
    # the input "up" has a metric name: the result keeps it exactly when the function says so
    if rows:
        assert any("__name__" in labels for labels, in rows) == FUNCTIONS[name].keeps_metric_name, rows
