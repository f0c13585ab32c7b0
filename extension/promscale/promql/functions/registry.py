"""The PromQL builtin registry: one record per function, holding its signature (what the parser
checks), its implementation (what the engine calls) and its flags.

A family module declares a function by decorating its implementation::

    @function("rate", [MATRIX])
    def rate(ev, call, ts): ...

The implementation receives the evaluator (``ev.eval(node, ts)`` evaluates an argument), the
``ast.Call`` node and the step times (ms) of the query, and returns a ``values`` object
(Vector, Scalar) covering every step. The parser looks signatures up with :func:`lookup`; the
engine calls ``call.func.call(ev, call, ts)``. Neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from ..ast import MATRIX, SCALAR, STRING, VECTOR

# an implementation: (evaluator, ast.Call, step times) -> Vector | Scalar
Implementation = Callable[[Any, Any, Any], Any]

ARGUMENT_TYPES = (VECTOR, MATRIX, SCALAR, STRING)
RETURN_TYPES = (VECTOR, SCALAR)


@dataclass(frozen=True)
class Function:
    """A PromQL builtin, as Prometheus's parser.Function plus the engine's flags."""

    name: str
    arg_types: tuple
    return_type: str
    # 0: exactly len(arg_types) arguments; n > 0: up to n optional trailing ones; -1: the last
    # argument type repeats without limit
    variadic: int
    implementation: Implementation = field(compare=False, repr=False)
    # the result keeps the input's __name__ (last_over_time, sort, label_replace...); every
    # other function that computes a new value drops it, as Prometheus does
    keeps_metric_name: bool = False
    # the value depends on the evaluation time itself (Prometheus's AtModifierUnsafeFunctions):
    # never step-invariant, so never evaluated once and broadcast
    at_modifier_unsafe: bool = False
    # behind Prometheus's --enable-feature=promql-experimental-functions (none in 2.42)
    experimental: bool = False

    @property
    def takes_range_vector(self) -> bool:
        return MATRIX in self.arg_types

    def call(self, ev, call, ts):
        """Evaluate ``call`` (an ast.Call of this function) at the step times ``ts``."""
        return self.implementation(ev, call, ts)


_FUNCTIONS: dict[str, Function] = {}

# every registered function by name, read-only
FUNCTIONS: Mapping[str, Function] = MappingProxyType(_FUNCTIONS)


def function(name: str, args: Iterable[str], returns: str = VECTOR, *, variadic: int = 0,
             keeps_metric_name: bool = False, at_modifier_unsafe: bool = False,
             experimental: bool = False) -> Callable[[Implementation], Implementation]:
    """Register the decorated implementation as the PromQL function ``name`` taking ``args``
    (ast type names) and returning ``returns``. A name registered twice is a programming error."""
    arg_types = tuple(args)
    bad = [t for t in arg_types if t not in ARGUMENT_TYPES]
    if bad or returns not in RETURN_TYPES:
        raise ValueError(f"PromQL function {name}: unknown value type in {arg_types} -> {returns}")
    if variadic != 0 and not arg_types:
        raise ValueError(f"PromQL function {name}: variadic without an argument to repeat")

    def register(implementation: Implementation) -> Implementation:
        if name in _FUNCTIONS:
            raise ValueError(f"PromQL function {name} is registered twice")
        _FUNCTIONS[name] = Function(name, arg_types, returns, variadic, implementation,
                                    keeps_metric_name, at_modifier_unsafe, experimental)
        return implementation

    return register


def lookup(name: str) -> Function | None:
    """The function called ``name``, or None when PromQL has no such function."""
    return _FUNCTIONS.get(name)
