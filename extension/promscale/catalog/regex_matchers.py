"""Regex label matchers for the SQL side (remote_read's series selection, the `?` matcher
operators of SQL users) with the PromQL engine's regex: RE2's syntax and semantics, fully
anchored, run by a linear-time engine (promql/regex.py). PostgreSQL's own `~` speaks another
dialect (its `.` matches a newline, `\\pL` and mid-pattern `(?i)` are errors, back-references and
lookahead are accepted), so the same selector could select other series over remote_read than in
a query.

A regex over a label key is tested against each of that key's values, as the PromQL engine's
storage does (promql/storage.py) and as Prometheus does over its postings: the cost follows the
values of the key the matcher names, not the catalog.
"""

from __future__ import annotations

from typing import Any

from ..promql.regex import RegexError, compile_anchored

# SQLSTATE invalid_regular_expression
INVALID_REGEX = "2201B"


class InvalidRegex(ValueError):
    """A pattern RE2 (as Prometheus) would refuse; the message is Go's."""


def _compiled(pattern: str):
    try:
        return compile_anchored(pattern)
    except RegexError as exc:
        raise InvalidRegex(str(exc)) from None


def full_match(pattern: str, value: str) -> bool:
    """Whether ``pattern`` matches all of ``value`` (PromQL's anchoring)."""
    return _compiled(pattern).fullmatch(value) is not None


def label_ids(plpy: Any, plans: dict, key: str, pattern: str) -> tuple[bool, list[int], list[int]]:
    """(whether the pattern matches "", ids of ``key``'s labels whose value it matches, ids of
    those it does not)."""
    regex = _compiled(pattern)
    plan = plans.get("regex_label_ids")
    if plan is None:
        # ">= AND <=": a generic plan of "key = $1" expects a tenth of all labels (see promql/storage.py)
        plan = plans["regex_label_ids"] = plpy.prepare(
            "SELECT id, value FROM _prom_catalog.label WHERE key >= $1 AND key <= $1", ["text"])
    matching, not_matching = [], []
    for row in plpy.execute(plan, [key]):
        (matching if regex.fullmatch(row["value"]) is not None else not_matching).append(row["id"])
    return regex.fullmatch("") is not None, matching, not_matching
