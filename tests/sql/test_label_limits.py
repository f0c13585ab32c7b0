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


def view_names(db) -> dict[str, str]:
    return dict(db.execute("SELECT metric_name, view_name FROM _prom_catalog.metric").fetchall())


@pytest.mark.parametrize("long_first", [True, False])
def test_a_name_equal_to_another_names_view_identifier_gets_its_own(db, long_first):
    long_name = "m" * 70
    long_view = db.execute("SELECT _prom_catalog.identifier_for(%s)", (long_name,)).fetchone()[0]
    names = [long_name, long_view] if long_first else [long_view, long_name]
    ids = [series_id(db, {"__name__": name}) for name in names]
    assert len(set(ids)) == 2
    views = view_names(db)
    assert views[long_name] != views[long_view]
    for name, sid in zip(names, ids):
        assert db.execute(f'SELECT series_id FROM prom_series."{views[name]}"').fetchall() == [(sid,)]


def test_multibyte_names_over_63_bytes_keep_their_digest(db):
    """Formerly the prefix was cut by characters and the cast to name cut the digest by bytes:
    two such names got one identifier, and the second series no id."""
    names = ["é" * 40 + "a", "é" * 40 + "b"]
    ids = [series_id(db, {"__name__": name, "é" * 40 + k: "v"}) for name, k in zip(names, "xy")]
    assert None not in ids and len(set(ids)) == 2
    views = view_names(db)
    assert views[names[0]] != views[names[1]]
    assert all(len(v.encode()) <= 63 for v in views.values())


def test_label_keys_whose_columns_clash_both_get_columns(db):
    sid = series_id(db, {"__name__": "col_clash", "time": "a", "time_label": "b"})
    row = db.execute("SELECT to_jsonb(s) FROM prom_series.col_clash s WHERE series_id = %s", (sid,)).fetchone()[0]
    assert row["time_label"] == "b"
    (other,) = [k for k, v in row.items() if v == "a"]
    assert other.startswith("time_label_")
