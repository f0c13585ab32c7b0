"""Series resolution by label-set hash: one encoding everywhere, refusals of non-canonical
input, and plans that probe indexes whatever the size of the catalog (100,000 series)."""

from __future__ import annotations

import hashlib
import random
import re

import psycopg
import pytest

from pyconnector.prometheus.remote_write import canonical_label_set
from support.scale_catalog import BIG_METRIC, label_set

NODE = {"__name__": "node_cpu_seconds_total", "instance": "host-1:9100", "job": "node", "cpu": "0", "mode": "idle"}


def resolve_blobs(conn: psycopg.Connection, label_sets: list[bytes]) -> list[int]:
    return conn.execute("SELECT prom_api.get_or_create_series_ids(%b::bytea[])", (label_sets,)).fetchone()[0]


def resolve_arrays(conn: psycopg.Connection, label_sets: list[dict]) -> list[int]:
    ords, keys, values = [], [], []
    for i, labels in enumerate(label_sets):
        items = list(labels.items())
        random.Random(i).shuffle(items)  # the array form takes labels in any order
        for k, v in items:
            ords.append(i)
            keys.append(k)
            values.append(v)
    rows = conn.execute("SELECT ord, series_id FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                        (ords, keys, values)).fetchall()
    return [sid for _, sid in sorted(rows)]


def blob(labels: dict) -> bytes:
    return canonical_label_set(sorted(labels.items()))


def test_one_encoding_in_sql_and_in_the_connector(db):
    labels = {**NODE, "zone": "é✓", "a": "", "Z": "upper sorts first"}
    items = list(labels.items())
    random.Random(7).shuffle(items)
    sql_hash = db.execute("SELECT _prom_catalog.label_set_hash(%s::text[], %s::text[])",
                          ([k for k, _ in items], [v for _, v in items])).fetchone()[0]
    assert sql_hash == hashlib.sha256(blob(labels)).digest()
    [sid] = resolve_arrays(db, [labels])
    assert db.execute("SELECT label_hash FROM _prom_catalog.series WHERE id = %s", (sid,)).fetchone()[0] == sql_hash
    # the same series whichever form resolves it, and whatever the input order
    assert resolve_blobs(db, [blob(labels)]) == [sid]
    assert db.execute("SELECT prom_api.jsonb(labels) FROM _prom_catalog.series WHERE id = %s", (sid,)).fetchone()[0] == labels


def test_blobs_resolve_in_input_order_with_duplicates(db):
    sets = [blob({**NODE, "cpu": str(i)}) for i in range(5)]
    first = resolve_blobs(db, [sets[0], sets[1], sets[0], sets[4]])
    assert first[0] == first[2] and len(set(first)) == 3
    again = resolve_blobs(db, list(reversed(sets)))
    assert again[4] == first[0] and again[3] == first[1] and again[0] == first[3]
    assert db.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] == 5


@pytest.mark.parametrize("label_set_bytes, message", [
    (b"job\x00node\x00__name__\x00up\x00", "not in bytewise order"),
    (b"__name__\x00up\x00job\x00a\x00job\x00b\x00", "repeated"),
    (b"job\x00node\x00", "__name__"),
    (b"__name__\x00\x00", "__name__"),
    (b"__name__\x00up\x00job", "NUL-terminated"),
    (b"__name__\x00up\x00job\x00\xff\x00", "UTF-8"),
    (b"", "NUL-terminated"),
])
def test_non_canonical_label_sets_are_refused_and_write_nothing(db, label_set_bytes, message):
    good = blob(NODE)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        resolve_blobs(db, [good, label_set_bytes])
    assert db.execute("SELECT (SELECT count(*) FROM _prom_catalog.series) + (SELECT count(*) FROM _prom_catalog.label)"
                      " + (SELECT count(*) FROM _prom_catalog.metric)").fetchone()[0] == 0


def test_a_label_set_that_is_not_canonical_never_finds_another_series(db):
    [sid] = resolve_blobs(db, [blob({"__name__": "up", "a": "1", "b": "2"})])
    swapped = b"__name__\x00up\x00b\x002\x00a\x001\x00"  # same labels, wrong order
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        resolve_blobs(db, [swapped])
    assert resolve_blobs(db, [blob({"__name__": "up", "b": "2", "a": "1"})]) == [sid]


def test_writing_a_series_marked_deleted_makes_it_live_again(db):
    [sid] = resolve_blobs(db, [blob(NODE)])
    db.execute("INSERT INTO _prom_catalog.gc_epoch (epoch) VALUES (1)")
    db.execute("UPDATE _prom_catalog.series SET delete_epoch = 1 WHERE id = %s", (sid,))
    assert resolve_blobs(db, [blob(NODE)]) == [sid]
    assert db.execute("SELECT delete_epoch FROM _prom_catalog.series WHERE id = %s", (sid,)).fetchone()[0] is None


def test_new_keys_extend_the_views(db):
    resolve_blobs(db, [blob({"__name__": "m", "a": "1"})])
    resolve_blobs(db, [blob({"__name__": "m", "a": "2", "b": "x"}), blob({"__name__": "m", "c": "y"})])
    cols = [c.name for c in db.execute("SELECT * FROM prom_series.m LIMIT 0").description]
    assert cols == ["series_id", "labels", "label_ids", "a", "b", "c"]
    assert db.execute("SELECT key, pos FROM _prom_catalog.label_key_position ORDER BY pos").fetchall() == \
        [("__name__", 1), ("a", 2), ("b", 3), ("c", 4)]


# --- plans at 100,000 series: every statement of resolution probes unique indexes ---

# metric and label_key_position hold a row per metric and key: a scan of them is the planner's
# right choice on a small catalog and does not grow with the series
CATALOG_TABLES = ("series", "label")


def nested_plans(conn: psycopg.Connection, statement: str, params: tuple) -> list[str]:
    """The plan of every statement ``statement`` runs, functions' statements included."""
    return plans_of(conn, lambda: conn.execute(statement, params))


def plans_of(conn: psycopg.Connection, run) -> list[str]:
    """The plan of every statement ``run()`` makes ``conn`` execute, functions' statements included."""
    plans: list[str] = []
    conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_level = notice")
    conn.execute("SET client_min_messages = notice")
    run()
    conn.execute("SET auto_explain.log_min_duration = -1")
    return [p for p in plans if p.startswith("duration")]


def assert_only_index_probes(plans: list[str]) -> None:
    assert plans
    text = "\n".join(plans)
    for table in CATALOG_TABLES:
        assert not re.search(rf"Seq Scan on {table}\b", text), text
        assert not re.search(rf"Bitmap Heap Scan on {table}\b", text), text


def test_resolving_existing_series_probes_the_hash_index(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn:
        wanted = [blob(label_set(BIG_METRIC, i)) for i in range(0, 100_000, 50)]  # 2,000 existing series
        plans = nested_plans(conn, "SELECT prom_api.get_or_create_series_ids(%b::bytea[])", (wanted,))
        assert_only_index_probes(plans)
        assert "Index Scan using series_label_hash_key on series" in "\n".join(plans)
        assert not any("_prom_catalog.create_series(" in p for p in plans)  # nothing to create: no creation step
        ids = resolve_blobs(conn, wanted)
        assert len(set(ids)) == 2_000


def test_creating_series_probes_indexes_only(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn:
        new = [blob({**label_set(BIG_METRIC, i), "series": f"new-{i}", "extra": "x"}) for i in range(500)]
        with conn.transaction(force_rollback=True):
            plans = nested_plans(conn, "SELECT prom_api.get_or_create_series_ids(%b::bytea[])", (new,))
            assert_only_index_probes(plans)
            text = "\n".join(plans)
            assert "Insert on series" in text and "Index Only Scan using label_key_value_id_key on label" in text
            assert conn.execute("SELECT count(*) FROM prom_series.scale_metric WHERE extra = 'x'").fetchone()[0] == 500


def test_the_connectors_resolution_reads_bounds_by_primary_key(scale_db_uri):
    """The connector's one statement (ids and the activity bounds they hold) probes indexes
    only: the bounds cost one primary-key probe per series, not a scan of the catalog."""
    from pyconnector.db import Database

    db = Database(scale_db_uri)
    conn = db.connection()
    wanted = [blob(label_set(BIG_METRIC, i)) for i in range(0, 100_000, 50)]  # 2,000 existing series
    result: list = []
    plans = plans_of(conn, lambda: result.append(db.resolve_series(wanted)))
    ids, (bounded, first_ms, last_ms) = result[0]
    assert len(set(ids)) == 2_000
    assert sorted(bounded) == sorted(ids)  # the catalog's series all have bounds
    assert all(lo <= hi for lo, hi in zip(first_ms, last_ms))
    assert_only_index_probes(plans)
    assert "Index Scan using series_pkey on series" in "\n".join(plans)
    db.discard()
