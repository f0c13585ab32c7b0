"""Prettify: Prometheus 2.42's parser.Prettify (prettier.go), used by /api/v1/format_query.

Expressions longer than 100 characters are split over lines, indented two spaces per level.
"""

from __future__ import annotations

from . import ast as A

MAX_CHARS_PER_LINE = 100


def _indent(level: int) -> str:
    return "  " * level


def _needs_split(node) -> bool:
    return node is not None and len(str(node)) > MAX_CHARS_PER_LINE


def pretty(node, level: int = 0) -> str:
    if isinstance(node, A.AggregateExpr):
        s = _indent(level)
        if not _needs_split(node):
            return s + str(node)
        s += node.op_str() + "(\n"
        if node.param is not None:
            s += pretty(node.param, level + 1) + ",\n"
        return s + pretty(node.expr, level + 1) + "\n" + _indent(level) + ")"
    if isinstance(node, A.BinaryExpr):
        if not _needs_split(node):
            return _indent(level) + str(node)
        b = " bool" if node.return_bool else ""
        return (f"{pretty(node.lhs, level + 1)}\n{_indent(level)}{node.op}{b}{node.matching_str()}\n"
                f"{pretty(node.rhs, level + 1)}")
    if isinstance(node, A.Call):
        if not _needs_split(node):
            return _indent(level) + str(node)
        args = ",\n".join(pretty(a, level + 1) for a in node.args)
        return f"{_indent(level)}{node.func.name}(\n{args}\n{_indent(level)})"
    if isinstance(node, A.ParenExpr):
        if not _needs_split(node):
            return _indent(level) + str(node)
        return f"{_indent(level)}(\n{pretty(node.expr, level + 1)}\n{_indent(level)})"
    if isinstance(node, A.SubqueryExpr):
        if not _needs_split(node):
            return str(node)
        return pretty(node.expr, level) + node.time_suffix()
    if isinstance(node, A.UnaryExpr):
        child = pretty(node.expr, level).strip()
        return f"{_indent(level)}{node.op}{child}"
    return _indent(level) + str(node)


def prettify(node) -> str:
    return pretty(node, 0)
