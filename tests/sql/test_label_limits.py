"""Labels the catalog cannot hold as columns or index entries: refused with a reason, or stored
with fewer view columns; never an internal error a writer would retry forever."""

from __future__ import annotations

import json

import psycopg
import pytest


def series_id(db, labels: dict) -> int:
    return db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (json.dumps(labels),)).fetchone()[0]


def test_a_label_too_long_to_index_is_refused_naming_it(db):
    incompressible = "".join(f"{i:08x}" for i in range(400))  # 3,200 bytes that do not compress
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="label v is 3201 bytes long .* limit of 2600"):
        series_id(db, {"__name__": "long_label", "v": incompressible})
    assert series_id(db, {"__name__": "long_label", "v": incompressible[:2000]}) > 0


def test_a_metric_with_more_keys_than_view_columns_keeps_ingesting(db):
    """kube_pod_labels has a key per pod label: past the views' column limit (1,600 in
    PostgreSQL) the further keys are in the labels column only."""
    limit = db.execute("SELECT _prom_catalog.metric_view_max_label_columns()").fetchone()[0]
    ids = [series_id(db, {"__name__": "kube_pod_labels", **{f"label_k{batch}_{i}": "v" for i in range(100)}})
           for batch in range(limit // 100 + 2)]
    assert len(set(ids)) == len(ids)
    columns = db.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'prom_series' "
                         "AND table_name = 'kube_pod_labels' AND column_name LIKE 'label_k%'").fetchone()[0]
    assert columns == limit
    last = db.execute("SELECT labels FROM prom_series.kube_pod_labels WHERE series_id = %s", (ids[-1],)).fetchone()[0]
    assert last[f"label_k{len(ids) - 1}_99"] == "v"
