"""Reading query plans in tests: what a query reads, counted from EXPLAIN (ANALYZE), never timed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg


def explain(conn: psycopg.Connection, sql: str, params: Any = None, analyze: bool = True) -> dict:
    """The plan of ``sql`` (JSON form, VERBOSE), executed when ``analyze``."""
    options = "ANALYZE, TIMING OFF, " if analyze else ""
    # parameters bound client-side: EXPLAIN EXECUTE takes no protocol-level parameters
    row = psycopg.ClientCursor(conn).execute(f"EXPLAIN ({options}VERBOSE, COSTS OFF, FORMAT JSON) {sql}", params).fetchone()
    return row[0][0]["Plan"]


def nodes(plan: dict) -> Iterator[dict]:
    """Every node of a plan, subplans included."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def decoded_rows(plan: dict) -> int:
    """Compressed rows the query decoded: each execution of a function scan over decode_times
    decodes one row."""
    return sum(n.get("Actual Loops", 0) for n in nodes(plan)
               if n["Node Type"] == "Function Scan" and "decode_times" in n.get("Function Call", ""))


def compressed_scans(plan: dict) -> list[dict]:
    """The scans of partitions of prom_data.compressed_sample that the plan kept."""
    return [n for n in nodes(plan) if n.get("Relation Name", "").startswith("compressed_")]


def compressed_rows_read(plan: dict) -> int:
    """Rows the compressed partition scans returned (before decoding), over all their loops."""
    return sum(n.get("Actual Rows", 0) * n.get("Actual Loops", 0) for n in compressed_scans(plan))


def text(conn: psycopg.Connection, sql: str, params: Any = None) -> str:
    """EXPLAIN's text form (plan only), for assertions on index names and conditions."""
    return "\n".join(r[0] for r in conn.execute(f"EXPLAIN (COSTS OFF) {sql}", params).fetchall())
