"""The exemplar → span query of docs/traces.md runs and finds the spans."""

from __future__ import annotations

import re
import time
from pathlib import Path

from werkzeug.test import Client

from support.traces import S, export

DOCS = Path(__file__).resolve().parents[2] / "docs" / "traces.md"


def docs_query() -> str:
    text = DOCS.read_text()
    match = re.search(r"<!-- exemplar-query[^>]*-->\s*```sql\n(.*?)```", text, re.S)
    assert match, "docs/traces.md lost its exemplar query"
    return match.group(1)


def test_exemplar_query_of_the_docs(connector, db):
    now_ns = time.time_ns() - 60 * 10**9
    export(Client(connector), [
        S(0x5B8EFFF798038103D269B633813FC60C, 1, None, "GET /checkout", "frontend", 0, 250, kind=2),
        S(0x5B8EFFF798038103D269B633813FC60C, 2, 1, "db", "frontend", 10, 100),
        S(0x1111, 1, None, "GET /other", "frontend", 0, 5, kind=2),
    ], base_ns=now_ns)
    series = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)",
                        ('{"__name__": "http_request_duration_seconds_bucket", "le": "0.5", "job": "shop"}',)
                        ).fetchone()[0]
    other = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)",
                       ('{"__name__": "other_metric", "job": "shop"}',)).fetchone()[0]
    db.execute("SELECT prom_api.put_exemplars(%s::bigint[], ARRAY[now(), now()], '{0.25, 1}', %s::jsonb[])",
               ([series, other], ['{"trace_id": "5b8efff798038103d269b633813fc60c"}',
                                  '{"trace_id": "0000000000000000000000000000beef"}']))
    rows = db.execute(docs_query()).fetchall()
    assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [
        (0.25, "0.5", "frontend", "GET /checkout", 250.0, "unset")]
