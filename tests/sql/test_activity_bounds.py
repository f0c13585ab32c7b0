"""Activity bounds (sql/idempotent/045-activity.sql): a write widens the bounds of its series,
their labels and their keys to cover its samples, by a bounded slack, and rewrites no row whose
bounds already cover it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

G = timedelta(minutes=20)
T0 = datetime(2024, 1, 1, 10, 7, 30, tzinfo=timezone.utc)


def series(db, *label_sets: dict) -> list[int]:
    return [db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (psycopg.types.json.Jsonb(ls),)
                       ).fetchone()[0] for ls in label_sets]


def put(db, ids: list[int], times: list[datetime]) -> None:
    db.execute("SELECT prom_api.put_samples(%s::bigint[], %s::timestamptz[], %s::float8[])",
               (ids, times, [1.0] * len(ids)))


def bounds(db, table: str, where: str, *args) -> tuple:
    return db.execute(f"SELECT first_seen, last_seen FROM _prom_catalog.{table} WHERE {where}", args).fetchone()


def versions(db) -> dict:
    """Row versions (xmin) of every catalog row carrying bounds: unchanged means not rewritten."""
    return {t: dict(db.execute(f"SELECT {k}::text, xmin::text FROM _prom_catalog.{t}").fetchall())
            for t, k in (("series", "id"), ("label", "id"), ("label_key", "key"))}


def grid(t: datetime, up: bool) -> datetime:
    seconds = G.total_seconds()
    floor = datetime.fromtimestamp(t.timestamp() // seconds * seconds, timezone.utc)
    return floor + G if up else floor


def test_a_write_marks_series_labels_and_keys_with_bounded_slack(db):
    (sid,) = series(db, {"__name__": "up", "job": "node"})
    put(db, [sid, sid], [T0, T0 + timedelta(seconds=60)])
    first, last = bounds(db, "series", "id = %s", sid)
    assert first == T0
    # pushed past the last sample by G and a phase below G, so it moves once every G to 2G
    assert G <= last - (T0 + timedelta(seconds=60)) < 2 * G
    for key, value in (("__name__", "up"), ("job", "node")):
        assert bounds(db, "label", "key = %s AND value = %s", key, value) == (grid(first, False), grid(last, True))
        assert bounds(db, "label_key", "key = %s", key) == (grid(first, False), grid(last, True))


def test_a_write_inside_the_bounds_rewrites_nothing(db):
    ids = series(db, {"__name__": "up", "job": "node", "instance": "a"}, {"__name__": "up", "job": "node", "instance": "b"})
    put(db, ids, [T0, T0])
    before = versions(db)
    put(db, ids, [T0 + timedelta(minutes=15)] * 2)
    put(db, ids, [T0 + timedelta(minutes=5)] * 2)
    assert versions(db) == before


def test_backfill_lowers_first_seen_a_step_further(db):
    (sid,) = series(db, {"__name__": "up"})
    put(db, [sid], [T0])
    put(db, [sid], [T0 - timedelta(hours=1)])
    assert bounds(db, "series", "id = %s", sid)[0] == T0 - timedelta(hours=1) - G
    before = versions(db)
    put(db, [sid], [T0 - timedelta(hours=1) - timedelta(minutes=10)])  # inside the step: no rewrite
    assert versions(db) == before
    assert bounds(db, "label", "key = '__name__' AND value = 'up'")[0] == grid(T0 - timedelta(hours=1) - G, False)


def test_a_label_shared_by_many_series_moves_once_per_grid_step(db):
    ids = series(db, *({"__name__": "node_load1", "instance": f"h{i}", "job": "node"} for i in range(60)))
    job_versions = set()
    series_versions = set()
    # every series scraped every 15 s for an hour, one write per scrape round
    for step in range(240):
        put(db, ids, [T0 + timedelta(seconds=15 * step)] * len(ids))
        job_versions.add(db.execute("SELECT xmin::text FROM _prom_catalog.label WHERE key = 'job'").fetchone()[0])
        series_versions |= set(db.execute("SELECT id, xmin::text FROM _prom_catalog.series").fetchall())
    # an hour and up to 2G of lookahead: a handful of grid steps, not 240 rounds × 60 series
    assert len(job_versions) <= 7
    first, last = bounds(db, "label", "key = 'job'")
    series_last = db.execute("SELECT max(last_seen) FROM _prom_catalog.series WHERE id = ANY(%s)", (ids,)).fetchone()[0]
    assert first <= T0 and series_last <= last < series_last + G
    # each series moved once per G to 2G: its first mark and at most 3 more in the hour, not 240
    assert len(series_versions) <= 60 * 4


def test_mark_series_activity_returns_the_bounds_for_writers_that_remember_them(db):
    ids = series(db, {"__name__": "a"}, {"__name__": "b"})
    put(db, ids[:1], [T0])
    rows = db.execute("SELECT * FROM prom_api.mark_series_activity(%s, %s, %s) ORDER BY 1",
                      (ids + ids[:1], [T0, T0, T0], [T0 + timedelta(minutes=1)] * 3)).fetchall()
    assert [r[0] for r in rows] == ids  # one row per distinct series, those already covered too
    assert all(r[1] <= T0 and r[2] >= T0 + timedelta(minutes=1) for r in rows)
    assert rows == db.execute("SELECT id, first_seen, last_seen FROM _prom_catalog.series ORDER BY 1").fetchall()
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="same length"):
        db.execute("SELECT * FROM prom_api.mark_series_activity(%s, %s, %s)", (ids, [T0], [T0]))


def catalog_bounds(db) -> dict:
    """Every bound in the catalog, keyed by names (not ids, which depend on creation order)."""
    return {
        "series": db.execute("SELECT label_hash, id, first_seen, last_seen FROM _prom_catalog.series ORDER BY 1").fetchall(),
        "label": db.execute("SELECT key, value, first_seen, last_seen FROM _prom_catalog.label ORDER BY 1, 2").fetchall(),
        "position": db.execute("SELECT m.metric_name, p.key, p.first_seen, p.last_seen FROM _prom_catalog.label_key_position p "
                               "JOIN _prom_catalog.metric m ON m.id = p.metric_id ORDER BY 1, 2").fetchall(),
        "metric_label": db.execute("SELECT m.metric_name, ml.key, l.value, ml.first_seen, ml.last_seen "
                                   "FROM _prom_catalog.metric_label ml JOIN _prom_catalog.metric m ON m.id = ml.metric_id "
                                   "JOIN _prom_catalog.label l ON l.id = ml.label_id ORDER BY 1, 2, 3").fetchall(),
        "key": db.execute("SELECT key, first_seen, last_seen FROM _prom_catalog.label_key ORDER BY 1").fetchall(),
    }


def canonical(labels: dict) -> bytes:
    return b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(labels.items()))


def test_series_created_with_bounds_hold_what_a_mark_would_give_them(db):
    """Creating series with their samples' time ranges sets the same bounds, on the series and
    on their labels, metric keys, metric labels and keys, as creating them bare and marking."""
    (old,) = series(db, {"__name__": "m", "job": "node", "instance": "old"})
    put(db, [old], [T0 - timedelta(hours=5)])  # existing rows whose bounds the new series widen
    label_sets = [canonical({"__name__": f"m{i % 3}" if i % 4 else "m", "job": "node", "instance": f"h{i % 7}",
                             **({"cpu": str(i % 2)} if i % 5 else {})}) for i in range(40)]
    first = [T0 + timedelta(minutes=i % 9, seconds=i) for i in range(40)]
    last = [t + timedelta(minutes=i % 4) for i, t in enumerate(first)]
    next_id = db.execute("SELECT last_value FROM _prom_catalog.series_id_seq").fetchone()[0]
    with db.transaction(force_rollback=True):
        with db.transaction(force_rollback=True):
            created = db.execute("SELECT prom_api.get_or_create_series_ids_with_activity(%s::bytea[], %s::timestamptz[], %s::timestamptz[])",
                                 (label_sets, first, last)).fetchone()[0]
            with_bounds = catalog_bounds(db)
            assert db.execute("SELECT count(*) FROM prom_api.mark_series_activity(%s, %s, %s)",
                              (created, first, last)).fetchone()[0] == len(set(created))
            assert catalog_bounds(db) == with_bounds  # nothing left for a mark to move
        db.execute("SELECT setval('_prom_catalog.series_id_seq', %s)", (next_id,))  # same ids, same phases
        bare = db.execute("SELECT prom_api.get_or_create_series_ids(%s::bytea[])", (label_sets,)).fetchone()[0]
        assert bare == created
        db.execute("SELECT count(*) FROM prom_api.mark_series_activity(%s, %s, %s)", (bare, first, last))
        assert catalog_bounds(db) == with_bounds


def test_series_created_without_times_have_no_bounds(db):
    sets = [canonical({"__name__": "a"}), canonical({"__name__": "b"})]
    ids = db.execute("SELECT prom_api.get_or_create_series_ids_with_activity(%s::bytea[], %s::timestamptz[], %s::timestamptz[])",
                     (sets, [T0, None], [T0, None])).fetchone()[0]
    rows = {r[0]: r[1:] for r in db.execute("SELECT id, first_seen, last_seen FROM _prom_catalog.series").fetchall()}
    assert rows[ids[0]][0] == T0 and rows[ids[1]] == (None, None)
    assert db.execute("SELECT prom_api.get_or_create_series_ids_with_activity(%s::bytea[], NULL, NULL)", (sets,)).fetchone()[0] == ids
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="as long as label_sets"):
        db.execute("SELECT prom_api.get_or_create_series_ids_with_activity(%s::bytea[], %s::timestamptz[], NULL)", (sets, [T0]))


def test_extreme_times_stay_bounds(db):
    (sid,) = series(db, {"__name__": "far"})
    for t in ("1970-01-01 00:00:00+00", "4713-01-01 00:00:00+00 BC", "294276-12-31 00:00:00+00"):
        db.execute("SELECT prom_api.put_samples(%s::bigint[], ARRAY[%s::timestamptz], '{1}')", ([sid], t))
    first, last = db.execute("SELECT first_seen::text, last_seen::text FROM _prom_catalog.series").fetchone()
    assert first.endswith("BC") and last.startswith("294276")
    assert db.execute("SELECT _prom_catalog.unix_ms(first_seen, true) <= -210000000000000 "
                      "AND _prom_catalog.unix_ms(last_seen, false) >= 9224317900000000 FROM _prom_catalog.series"
                      ).fetchone()[0]


def test_concurrent_writers_sharing_labels_neither_deadlock_nor_lose_bounds(db_uri, db):
    """Writers in opposite series orders, all moving the same shared labels: no deadlock, and
    the bounds cover every sample written."""
    ids = series(db, *({"__name__": "m", "shard": str(i % 4), "job": "j", "i": str(i)} for i in range(40)))
    errors: list[BaseException] = []

    def writer(order: list[int], offset: int) -> None:
        try:
            with psycopg.connect(db_uri, autocommit=True) as conn:
                for step in range(30):
                    t = T0 + timedelta(minutes=7 * step, seconds=offset)
                    with conn.transaction():
                        put(conn, order, [t] * len(order))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(ids if k % 2 else ids[::-1], k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    newest = T0 + timedelta(minutes=7 * 29, seconds=3)
    assert db.execute("SELECT min(first_seen) <= %s AND min(last_seen) >= %s FROM _prom_catalog.series",
                      (T0, newest)).fetchone()[0]
    assert db.execute("SELECT bool_and(first_seen <= %s AND last_seen >= %s) FROM _prom_catalog.label",
                      (T0, newest)).fetchone()[0]


@pytest.mark.parametrize("call", ["_prom_catalog.activity_grid(t, true)", "_prom_catalog.activity_shift(t, 1.5)",
                                  "_prom_catalog.unix_ms(t, false)"])
def test_per_row_helpers_are_inlined(db, call):
    """A SET clause or a volatility label that stops inlining makes each call a planned statement
    (~0.1 ms a row: marking 2,000 series took 300 ms instead of 40)."""
    plan = "\n".join(r[0] for r in db.execute(
        f"EXPLAIN (VERBOSE) SELECT {call} FROM (VALUES (now()), (now())) AS v(t)").fetchall())
    assert "activity_" not in plan and "unix_ms" not in plan, plan
