"""The executed plans of every statement a call runs, nested ones included (SQL and PL/Python
functions' own queries), captured with auto_explain: tests assert on the plans a user's call
really gets (custom and, after a few calls, generic), not on a copy of its query. (support/plans.py
explains one statement from the outside.)"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from support.plans import nodes

AUTO_EXPLAIN = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_timing": "off",
    "auto_explain.log_format": "json",
    "client_min_messages": "log",
}


def run_explained(conn: psycopg.Connection, sql: str, params: Any = ()) -> tuple[Any, list[dict]]:
    """(first column of the call's row, the JSON plans of every statement it ran)."""
    plans: list[dict] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        if diag.severity_nonlocalized == "LOG" and text.startswith("duration:") and "\n" in text:
            plans.append(json.loads(text.split("\n", 1)[1]))

    conn.execute("LOAD 'auto_explain'")
    for name, value in AUTO_EXPLAIN.items():
        conn.execute(f"SET {name} = '{value}'")
    conn.add_notice_handler(on_notice)
    try:
        result = conn.execute(sql, params).fetchone()[0]
    finally:
        conn.remove_notice_handler(on_notice)
        conn.execute("RESET client_min_messages")
        conn.execute("RESET auto_explain.log_min_duration")
    return result, [p for p in plans if p["Query Text"].strip() != sql.strip()]


def scans(plans: list[dict]) -> list[dict]:
    """The nodes that read a relation, over all plans."""
    return [n for p in plans for n in nodes(p["Plan"]) if "Relation Name" in n]


def rows_read(plans: list[dict], relation: str) -> int:
    """Rows the scans of ``relation`` read, over all loops: those returned and those a filter
    dropped (what a call touched there)."""
    return sum(int((n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"])
               for n in scans(plans) if n["Relation Name"] == relation)
