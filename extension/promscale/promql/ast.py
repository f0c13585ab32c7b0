"""PromQL syntax tree and its printer (Prometheus's Node.String() formatting).

Value types are the strings Prometheus prints: "scalar", "instant vector",
"range vector", "string".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .gofmt import format_duration, go_quote, go_sprint_float

SCALAR = "scalar"
VECTOR = "instant vector"
MATRIX = "range vector"
STRING = "string"


@dataclass
class Matcher:
    type: str  # "=", "!=", "=~", "!~"
    name: str
    value: str
    regex: object = None  # compiled anchored pattern for =~ / !~

    def matches(self, v: str) -> bool:
        if self.type == "=":
            return v == self.value
        if self.type == "!=":
            return v != self.value
        ok = self.regex.fullmatch(v) is not None
        return ok if self.type == "=~" else not ok

    def __str__(self) -> str:
        return f"{self.name}{self.type}{go_quote(self.value)}"


class Node:
    def type(self) -> str:
        raise NotImplementedError


def _at_offset_str(n) -> tuple[str, str]:
    offset = ""
    if n.original_offset > 0:
        offset = " offset " + format_duration(n.original_offset)
    elif n.original_offset < 0:
        offset = " offset -" + format_duration(-n.original_offset)
    at = ""
    if n.timestamp is not None:
        at = " @ %.3f" % (n.timestamp / 1000.0)
    elif n.start_or_end == "start":
        at = " @ start()"
    elif n.start_or_end == "end":
        at = " @ end()"
    return at, offset


@dataclass(eq=False)
class VectorSelector(Node):
    name: str
    matchers: list
    original_offset: int = 0   # ms
    timestamp: Optional[int] = None  # ms, from @
    start_or_end: Optional[str] = None

    def type(self):
        return VECTOR

    def base_str(self) -> str:
        parts = []
        for m in self.matchers:
            if m.name == "__name__" and m.type == "=" and m.value == self.name:
                continue
            parts.append(str(m))
        if not parts:
            return self.name
        parts.sort()
        return f"{self.name}{{{','.join(parts)}}}"

    def __str__(self):
        at, offset = _at_offset_str(self)
        return self.base_str() + at + offset


@dataclass(eq=False)
class MatrixSelector(Node):
    vs: VectorSelector
    range: int  # ms

    def type(self):
        return MATRIX

    def __str__(self):
        at, offset = _at_offset_str(self.vs)
        return f"{self.vs.base_str()}[{format_duration(self.range)}]{at}{offset}"


@dataclass(eq=False)
class SubqueryExpr(Node):
    expr: Node
    range: int
    step: int  # 0 = default
    original_offset: int = 0
    timestamp: Optional[int] = None
    start_or_end: Optional[str] = None

    def type(self):
        return MATRIX

    def time_suffix(self) -> str:
        step = format_duration(self.step) if self.step else ""
        at, offset = _at_offset_str(self)
        return f"[{format_duration(self.range)}:{step}]{at}{offset}"

    def __str__(self):
        return f"{self.expr}{self.time_suffix()}"


@dataclass(eq=False)
class NumberLiteral(Node):
    val: float

    def type(self):
        return SCALAR

    def __str__(self):
        return go_sprint_float(self.val)


@dataclass(eq=False)
class StringLiteral(Node):
    val: str

    def type(self):
        return STRING

    def __str__(self):
        return go_quote(self.val)


@dataclass(eq=False)
class ParenExpr(Node):
    expr: Node

    def type(self):
        return self.expr.type()

    def __str__(self):
        return f"({self.expr})"


@dataclass(eq=False)
class UnaryExpr(Node):
    op: str  # "+" or "-"
    expr: Node

    def type(self):
        return self.expr.type()

    def __str__(self):
        return f"{self.op}{self.expr}"


@dataclass
class VectorMatching:
    card: str = "one-to-one"  # one-to-one, many-to-one, one-to-many, many-to-many
    matching_labels: list = field(default_factory=list)
    on: bool = False
    include: list = field(default_factory=list)


@dataclass(eq=False)
class BinaryExpr(Node):
    op: str
    lhs: Node
    rhs: Node
    matching: Optional[VectorMatching] = None
    return_bool: bool = False

    def type(self):
        if self.lhs.type() == SCALAR and self.rhs.type() == SCALAR:
            return SCALAR
        return VECTOR

    def matching_str(self) -> str:
        vm = self.matching
        if vm is not None and (vm.matching_labels or vm.on):
            tag = "on" if vm.on else "ignoring"
            s = f" {tag} ({', '.join(vm.matching_labels)})"
            if vm.card in ("many-to-one", "one-to-many"):
                side = "left" if vm.card == "many-to-one" else "right"
                s += f" group_{side} ({', '.join(vm.include)})"
            return s
        return ""

    def __str__(self):
        b = " bool" if self.return_bool else ""
        return f"{self.lhs} {self.op}{b}{self.matching_str()} {self.rhs}"


@dataclass(eq=False)
class Call(Node):
    func: object  # functions.registry.Function
    args: list

    def type(self):
        return self.func.return_type

    def __str__(self):
        return f"{self.func.name}({', '.join(str(a) for a in self.args)})"


@dataclass(eq=False)
class AggregateExpr(Node):
    op: str
    expr: Node
    param: Optional[Node] = None
    grouping: list = field(default_factory=list)
    without: bool = False

    def type(self):
        return VECTOR

    def op_str(self) -> str:
        s = self.op
        if self.without:
            s += f" without ({', '.join(self.grouping)}) "
        elif self.grouping:
            s += f" by ({', '.join(self.grouping)}) "
        return s

    def __str__(self):
        s = self.op_str() + "("
        if self.param is not None:
            s += f"{self.param}, "
        return s + f"{self.expr})"


def children(node: Node) -> list:
    if isinstance(node, MatrixSelector):
        return [node.vs]
    if isinstance(node, SubqueryExpr):
        return [node.expr]
    if isinstance(node, (ParenExpr, UnaryExpr)):
        return [node.expr]
    if isinstance(node, BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, AggregateExpr):
        return [node.param, node.expr] if node.param is not None else [node.expr]
    return []


def unwrap_parens(node: Node) -> Node:
    """The expression inside any number of parentheses."""
    while isinstance(node, ParenExpr):
        node = node.expr
    return node


def walk(node: Node):
    yield node
    for c in children(node):
        yield from walk(c)
