"""Prometheus's own PromQL test scripts (v2.42.0), evaluated through prom_api.query in SQL."""

from __future__ import annotations

import psycopg
import pytest

from promqltest import SCRIPTS, run_script

V242 = sorted((SCRIPTS / "v2.42.0").glob("*.test"))


@pytest.mark.parametrize("script", V242, ids=[p.name for p in V242])
def test_v2_42_script(db_uri, script):
    with psycopg.connect(db_uri, autocommit=True) as conn:
        passed, failures, _ = run_script(conn, script, "v2.42.0")
    report = "\n".join(f"line {line}: {expr}\n    {msg}" for line, expr, msg in failures)
    assert not failures, f"{len(failures)} of {passed + len(failures)} evals failed:\n{report}"
    assert passed > 0
