"""The SQL-built scale catalog (tests/support/scale_catalog.py) is what ingest would have built:
resolving its label sets through the API finds the existing series and creates nothing."""

from __future__ import annotations

from support.scale_catalog import ACTIVE_FROM, ACTIVE_TO, BIG_METRIC, STOPPED_AT, build_catalog, label_set


def resolve(db, label_sets: list[dict]) -> dict[int, int]:
    ords, keys, values = [], [], []
    for i, labels in enumerate(label_sets):
        for k, v in labels.items():
            ords.append(i)
            keys.append(k)
            values.append(v)
    return dict(db.execute("SELECT * FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                           (ords, keys, values)).fetchall())


def test_scale_catalog_matches_what_ingest_builds(db):
    build_catalog(db, n_series=2_000, hosts=50, extra_metrics=1)
    counts = db.execute("SELECT (SELECT count(*) FROM _prom_catalog.series), (SELECT count(*) FROM _prom_catalog.label)"
                        ).fetchone()
    wanted = [label_set(BIG_METRIC, i, hosts=50) for i in (0, 1, 49, 50, 1_999)]
    ids = resolve(db, wanted)
    assert db.execute("SELECT count(*) FROM _prom_catalog.label").fetchone()[0] == counts[1]
    assert db.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] == counts[0]
    stored = dict(db.execute(
        "SELECT s.id, prom_api.jsonb(s.labels) FROM _prom_catalog.series s WHERE s.id = ANY(%s)",
        (list(ids.values()),)).fetchall())
    assert [stored[ids[i]] for i in range(len(wanted))] == wanted
    assert db.execute("SELECT count(*) FROM prom_series.scale_metric").fetchone()[0] == 2_000


def test_scale_catalog_bounds_are_what_marking_leaves(db):
    build_catalog(db, n_series=2_000, hosts=50, extra_metrics=1)
    snapshot = ("SELECT (SELECT array_agg((id, first_seen, last_seen) ORDER BY id) FROM _prom_catalog.series), "
                "(SELECT array_agg((id, first_seen, last_seen) ORDER BY id) FROM _prom_catalog.label), "
                "(SELECT array_agg((key, first_seen, last_seen) ORDER BY key) FROM _prom_catalog.label_key), "
                "(SELECT array_agg((metric_id, pos, first_seen, last_seen) ORDER BY metric_id, pos) "
                " FROM _prom_catalog.label_key_position), "
                "(SELECT array_agg((metric_id, key, label_id, first_seen, last_seen) ORDER BY metric_id, key, label_id) "
                " FROM _prom_catalog.metric_label)")
    built = db.execute(snapshot).fetchone()
    ranges = db.execute(
        "SELECT array_agg(s.id), array_agg(%s::timestamptz), "
        "       array_agg(CASE WHEN m.metric_name = %s AND substr(l.value, 6)::int >= 25 THEN %s::timestamptz "
        "                      ELSE %s::timestamptz END) "
        "FROM _prom_catalog.series s JOIN _prom_catalog.metric m ON m.id = s.metric_id "
        "JOIN _prom_catalog.label l ON l.id = s.labels[2]", (ACTIVE_FROM, BIG_METRIC, STOPPED_AT, ACTIVE_TO)).fetchone()
    db.execute("UPDATE _prom_catalog.series SET first_seen = NULL, last_seen = NULL")
    db.execute("UPDATE _prom_catalog.label SET first_seen = NULL, last_seen = NULL")
    db.execute("UPDATE _prom_catalog.label_key_position SET first_seen = NULL, last_seen = NULL")
    db.execute("DELETE FROM _prom_catalog.label_key")
    db.execute("DELETE FROM _prom_catalog.metric_label")
    db.execute("SELECT count(*) FROM prom_api.mark_series_activity(%s, %s, %s)", ranges)
    assert db.execute(snapshot).fetchone() == built
