"""The privileges of a fresh install are the reviewed ones of tests/sql/data/privileges.tsv.

Grants sit next to the definitions they concern, spread over many files (docs/development.md);
this snapshot shows every change of who may do what as a diff. tests/sql/test_upgrade.py holds an
upgraded installation to the same snapshot.
"""

from __future__ import annotations

import os

from support import privileges


def test_a_fresh_install_grants_exactly_the_snapshot(db):
    actual = privileges.privilege_lines(db)
    if os.environ.get(privileges.REWRITE_VARIABLE):
        privileges.write_snapshot(actual)
        raise AssertionError(f"{privileges.SNAPSHOT} rewritten: review `git diff` and rerun without "
                             f"{privileges.REWRITE_VARIABLE}")
    assert privileges.differences(privileges.read_snapshot(), actual) == []


def test_no_function_of_the_extension_is_left_to_public(db):
    """PostgreSQL lets PUBLIC execute a new function: each one must be revoked (default deny)."""
    public = [line for line in privileges.privilege_lines(db) if line.split("\t")[2] == "PUBLIC"
              and line.split("\t")[0] in ("function", "procedure")]
    assert public == []
