"""Several connectors creating overlapping series at once: no duplicates, no deadlocks."""

from __future__ import annotations

import random
import threading

import psycopg

from test_catalog import resolve

WORKERS = 6
ROUNDS = 8


def label_sets() -> list[dict]:
    sets = []
    for metric in range(5):
        for i in range(60):
            labels = {"__name__": f"metric_{metric}", "instance": f"host-{i % 7}", "job": f"job-{i % 3}"}
            # keys that only some series have: positions get assigned while others race
            if i % 4 == 0:
                labels[f"extra_{i % 9}"] = str(i)
            if i % 5 == 0:
                labels["shard"] = str(i % 2)
            sets.append(labels)
    return sets


def test_overlapping_series_creation_from_many_connections(db_uri, db):
    sets = label_sets()
    results: list[dict[str, int]] = [{} for _ in range(WORKERS)]
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            with psycopg.connect(db_uri, autocommit=True) as conn:
                start.wait()
                for _ in range(ROUNDS):
                    batch = rng.sample(sets, 120)
                    ids = resolve(conn, batch)
                    for i, labels in enumerate(batch):
                        key = repr(sorted(labels.items()))
                        assert results[n].setdefault(key, ids[i]) == ids[i]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    merged: dict[str, int] = {}
    for seen in results:
        for key, sid in seen.items():
            assert merged.setdefault(key, sid) == sid, f"two ids for {key}"
    distinct = db.execute("SELECT count(*), count(DISTINCT labels) FROM _prom_catalog.series").fetchone()
    assert distinct[0] == distinct[1] == len(merged)
    # every label set resolves to the id the racers agreed on
    final = resolve(db, sets)
    for i, labels in enumerate(sets):
        key = repr(sorted(labels.items()))
        if key in merged:
            assert final[i] == merged[key]
    positions = db.execute("SELECT metric_id, count(*), count(DISTINCT pos), max(pos) "
                           "FROM _prom_catalog.label_key_position GROUP BY metric_id").fetchall()
    for _metric, keys, distinct_pos, max_pos in positions:
        assert keys == distinct_pos == max_pos
    assert db.execute("SELECT count(*) FROM _prom_catalog.metric WHERE views_stale").fetchone()[0] == 0
