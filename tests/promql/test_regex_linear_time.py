"""PromQL regexes run in linear time (RE2), so a pattern built to backtrack cannot hold a backend.

With Python's backtracking re, `(a+)+` against n a's and a b takes about 2^n steps, with no
interrupt check: statement_timeout could not stop it (issue 9: a query answered after 34.5 s and
pg_cancel_backend had no effect). Here n = 26 (tens of seconds on the old engine, microseconds on
RE2) under a 5 s statement timeout: the old engine fails these tests with a cancellation once its
match returns, rather than hanging the suite (n = 40 did, for hours)."""

from __future__ import annotations

import json

import pytest

from test_sql_api import load

EVIL_VALUE = "a" * 26 + "b"


@pytest.fixture
def evil(db):
    load(db, {json.dumps({"__name__": "redos", "v": EVIL_VALUE}): [1.0, 2.0],
              json.dumps({"__name__": "redos", "v": "aaaa"}): [3.0, 4.0]})
    db.execute("SET statement_timeout = '5s'")
    return db


def values_of(db, query: str) -> dict[str, float]:
    rows = db.execute("SELECT labels, value FROM prom_api.query(%s, to_timestamp(15))", (query,)).fetchall()
    return {labels.get("v", labels.get("w")): value for labels, value in rows}


def test_catastrophic_matcher_answers(evil):
    assert values_of(evil, 'redos{v=~"(a+)+"}') == {"aaaa": 4.0}
    assert values_of(evil, 'redos{v!~"(a+)+"}') == {EVIL_VALUE: 2.0}
    assert values_of(evil, 'redos{v=~"(a|aa)+b"}') == {EVIL_VALUE: 2.0}


def test_catastrophic_label_replace_answers(evil):
    rows = evil.execute("SELECT labels FROM prom_api.query("
                        "'label_replace(redos, \"w\", \"$1\", \"v\", \"((a+)+)(c?)\")', to_timestamp(15))").fetchall()
    assert sorted(labels.get("w", "-") for (labels,) in rows) == ["-", "aaaa"]


def test_re2_semantics_where_python_differs(evil):
    # `$` ends the text (Python's also matches before a final newline); \d is ASCII only
    load(evil, {json.dumps({"__name__": "sem", "v": "x\n"}): [1.0], json.dumps({"__name__": "sem", "v": "\u0663"}): [1.0]})
    assert values_of(evil, 'sem{v=~"x$"}') == {}
    assert values_of(evil, 'sem{v=~"\\\\d"}') == {}
    assert values_of(evil, 'sem{v=~"(?s)x."}') == {"x\n": 1.0}
