"""/api/v1/query_exemplars: exemplars of every series the query's selectors select."""

from __future__ import annotations

import json
from typing import Any

from . import gojson
from .selectors import SelectorError, extract_selectors, select_series

_plans: dict[str, Any] = {}


def query_exemplars_json(plpy: Any, session: dict, query: str, start: float, end: float) -> str | None:
    """The response body, or None when the query has no selectors (Prometheus answers 204)."""
    if end < start:
        return gojson.error("bad_data", "end timestamp must not be before start timestamp")
    try:
        selectors = extract_selectors(query)
    except SelectorError as exc:
        return gojson.error("bad_data", str(exc))
    if not selectors:
        return None
    labels_of = {sid: labels for labels, sid in select_series(plpy, session, selectors)}
    if not labels_of:
        return gojson.success("[]")
    plan = _plans.get("exemplars")
    if plan is None:
        plan = _plans["exemplars"] = plpy.prepare(
            "SELECT x.series_id, "
            "             array_agg((extract(epoch FROM x.time) * 1000)::bigint ORDER BY x.time) AS times_ms, "
            "             array_agg(x.value ORDER BY x.time) AS values, "
            "             array_agg(x.labels::text ORDER BY x.time) AS label_sets "
            "      FROM prom_data.exemplar x "
            "      WHERE x.series_id IN (SELECT unnest($1)) "
            "        AND x.time >= _prom_catalog.clamped_timestamptz($2) "
            "        AND x.time <= _prom_catalog.clamped_timestamptz($3) "
            "      GROUP BY x.series_id",
            ["bigint[]", "float8", "float8"])
    rows = plpy.execute(plan, [sorted(labels_of), start, end])
    parts = []
    for pairs, row in sorted(((labels_of[r["series_id"]], r) for r in rows), key=lambda item: item[0]):
        exemplars = []
        for t, v, labels_text in zip(row["times_ms"], row["values"], row["label_sets"]):
            labels = json.loads(labels_text)
            exemplars.append('{"labels":' + gojson.dumps(dict(sorted(labels.items()))) +
                             ',"value":"' + gojson.format_value(v) + '","timestamp":' +
                             gojson.format_timestamp_ms(t) + "}")
        parts.append('{"seriesLabels":' + gojson.dumps(dict(pairs)) + ',"exemplars":[' + ",".join(exemplars) + "]}")
    return gojson.success("[" + ",".join(parts) + "]")
