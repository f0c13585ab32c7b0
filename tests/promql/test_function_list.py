"""Every PromQL function the parser declares (promql/functions.py, Prometheus 2.42's list) is
evaluated by the engine, and the engine implements nothing the parser does not declare: the
check Prometheus makes in TestFunctionList. A function declared but missing from the engine's
dispatch would parse, then fail every query with "not implemented"."""

from __future__ import annotations

import pytest

from promscale.promql import funcs
from promscale.promql.ast import MATRIX, SCALAR, STRING, VECTOR
from promscale.promql.functions import FUNCTIONS
from test_sql_api import load

# arguments of each declared type; strings that label_replace and label_join accept
ARGUMENT = {VECTOR: "up", MATRIX: "up[1m]", SCALAR: "0.5"}
# empty for this data: "up" exists, and it is no histogram
EMPTY = {"absent", "absent_over_time", "histogram_count", "histogram_sum", "histogram_fraction", "histogram_quantile"}
STRINGS = {"label_replace": ['"dst"', '"$1"', '"job"', '"(.*)"'], "label_join": ['"dst"', '","', '"job"']}


def query(name: str) -> str:
    declared = FUNCTIONS[name].arg_types
    strings = iter(STRINGS.get(name, []))
    args = [next(strings) if t == STRING else ARGUMENT[t] for t in declared]
    return f"{name}({', '.join(args)})"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_declared_function_is_evaluated(db, name):
    load(db, {'{"__name__": "up", "job": "a"}': [1.0, 0.0, 1.0, 1.0, 2.0, 3.0, 0.5, 1.0, 1.0]})
    rows = db.execute("SELECT count(*) FROM prom_api.query_range(%s, to_timestamp(60), to_timestamp(120), '15 seconds')",
                      (query(name),)).fetchone()[0]
    # (an unimplemented function raises "function ... is not implemented")
    assert (rows > 0) == (name not in EMPTY), rows


def test_the_engine_implements_only_declared_functions():
    implemented = set(funcs.SIMPLE) | set(funcs.DATE_FUNCS) | funcs.RANGE_FUNCS
    assert implemented <= set(FUNCTIONS), implemented - set(FUNCTIONS)
