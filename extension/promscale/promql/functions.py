"""Signatures of the PromQL functions of Prometheus 2.42 (promql/parser/functions.go)."""

from __future__ import annotations

from dataclasses import dataclass

from .ast import MATRIX, SCALAR, STRING, VECTOR


@dataclass(frozen=True)
class Function:
    name: str
    arg_types: tuple
    return_type: str
    variadic: int = 0  # 0: exact, n > 0: up to n optional trailing args, -1: unlimited


def _f(name, args, ret=VECTOR, variadic=0):
    return Function(name, tuple(args), ret, variadic)


V, M, S, STR = VECTOR, MATRIX, SCALAR, STRING

FUNCTIONS = {f.name: f for f in [
    _f("abs", [V]), _f("absent", [V]), _f("absent_over_time", [M]),
    _f("acos", [V]), _f("acosh", [V]), _f("asin", [V]), _f("asinh", [V]),
    _f("atan", [V]), _f("atanh", [V]), _f("avg_over_time", [M]), _f("ceil", [V]),
    _f("changes", [M]), _f("clamp", [V, S, S]), _f("clamp_max", [V, S]), _f("clamp_min", [V, S]),
    _f("cos", [V]), _f("cosh", [V]), _f("count_over_time", [M]),
    _f("days_in_month", [V], variadic=1), _f("day_of_month", [V], variadic=1),
    _f("day_of_week", [V], variadic=1), _f("day_of_year", [V], variadic=1),
    _f("deg", [V]), _f("delta", [M]), _f("deriv", [M]), _f("exp", [V]), _f("floor", [V]),
    _f("histogram_count", [V]), _f("histogram_sum", [V]), _f("histogram_fraction", [S, S, V]),
    _f("histogram_quantile", [S, V]), _f("holt_winters", [M, S, S]),
    _f("hour", [V], variadic=1), _f("idelta", [M]), _f("increase", [M]), _f("irate", [M]),
    _f("label_replace", [V, STR, STR, STR, STR]), _f("label_join", [V, STR, STR, STR], variadic=-1),
    _f("last_over_time", [M]), _f("ln", [V]), _f("log10", [V]), _f("log2", [V]),
    _f("max_over_time", [M]), _f("min_over_time", [M]), _f("minute", [V], variadic=1),
    _f("month", [V], variadic=1), _f("pi", [], S), _f("predict_linear", [M, S]),
    _f("present_over_time", [M]), _f("quantile_over_time", [S, M]), _f("rad", [V]),
    _f("rate", [M]), _f("resets", [M]), _f("round", [V, S], variadic=1), _f("scalar", [V], S),
    _f("sgn", [V]), _f("sin", [V]), _f("sinh", [V]), _f("sort", [V]), _f("sort_desc", [V]),
    _f("sqrt", [V]), _f("stddev_over_time", [M]), _f("stdvar_over_time", [M]),
    _f("sum_over_time", [M]), _f("tan", [V]), _f("tanh", [V]), _f("time", [], S),
    _f("timestamp", [V]), _f("vector", [S]), _f("year", [V], variadic=1),
]}

# functions whose value depends on the evaluation time itself: never step-invariant
AT_MODIFIER_UNSAFE = {"days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour",
                      "minute", "month", "year", "predict_linear", "time", "timestamp"}
