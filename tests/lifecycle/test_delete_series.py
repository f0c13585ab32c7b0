"""prom_api.delete_series: the samples of the selected series in a time range go from the head
and both compressed levels (rows wholly inside deleted, rows across an end cut and rewritten),
nothing else changes, and later maintenance does not bring them back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from lifecycle_db import ms, put, read_exact, scrape_batch, series_ids

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


def maintain(db: psycopg.Connection) -> None:
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")


def levels(db: psycopg.Connection, ids: list[int]) -> dict[str, int]:
    """Where the samples of some series are: head rows, level-1 and level-2 samples."""
    compressed = dict(db.execute("SELECT level, sum(count) FROM prom_data.compressed_sample "
                                 "WHERE series_id = ANY (%s) GROUP BY 1", (ids,)).fetchall())
    head = db.execute("SELECT count(*) FROM prom_data.sample WHERE series_id = ANY (%s)", (ids,)).fetchone()[0]
    return {"head": head, "level1": compressed.get(1, 0), "level2": compressed.get(2, 0)}


@pytest.fixture
def stored(db):
    """Two metrics with the same instances, 30 hours of scrapes at 30 s ending now, maintained
    so that the samples are on every level: compacted buckets, flushed partitions of the open
    bucket, and the head."""
    rng = np.random.default_rng(5)
    ids = series_ids(db, [{"__name__": name, "instance": f"i{i}"} for name in ("del", "keep") for i in range(6)])
    now = datetime.now(timezone.utc)
    steps = 30 * 120
    start = ms(now) - 30 * (steps - 1) * 1000 - 1000
    for first in range(0, steps, 1200):
        put(db, *scrape_batch(rng, ids, start + first * 30_000, min(1200, steps - first), interval_ms=30_000))
    maintain(db)
    where = levels(db, ids)
    assert where["head"] > 0 and where["level1"] > 0 and where["level2"] > 0, where
    return db, ids, now


def samples_of(db, ids):
    """series id → [(time, value bits)] of every sample."""
    return {sid: list(zip(times, vals)) for sid, times, vals in read_exact(db, ids, *FAR)}


def test_selected_series_lose_the_range_on_every_level(stored):
    db, ids, now = stored
    before = samples_of(db, ids)
    # from mid-bucket 20 hours ago (compacted rows cut) to 2 minutes ago (the head, flushed rows)
    start, end = now - timedelta(hours=20, minutes=7), now - timedelta(minutes=2)
    deleted = db.execute("SELECT prom_api.delete_series(%s, %s, %s)",
                         ('del{instance=~"i[0-2]"}', start, end)).fetchone()[0]
    selected = set(ids[:3])
    expected = {sid: [(t, v) for t, v in samples if sid not in selected or not start <= t <= end]
                for sid, samples in before.items()}
    assert deleted == sum(len(before[sid]) - len(expected[sid]) for sid in selected) > 0
    assert samples_of(db, ids) == expected
    # flushing and compacting what was left changes nothing
    db.execute("SELECT prom_api.set_compression_delay('0')")
    maintain(db)
    maintain(db)
    assert samples_of(db, ids) == expected


def test_a_whole_series_goes_and_is_marked_for_collection(stored):
    db, ids, _ = stored
    before = samples_of(db, ids)
    deleted = db.execute("SELECT prom_api.delete_series('del{instance=\"i4\"}')").fetchone()[0]
    assert deleted == len(before[ids[4]])
    assert levels(db, [ids[4]]) == {"head": 0, "level1": 0, "level2": 0}
    assert samples_of(db, ids) == {sid: s for sid, s in before.items() if sid != ids[4]}
    marked = dict(db.execute("SELECT id, delete_epoch IS NOT NULL FROM _prom_catalog.series WHERE id = ANY (%s)",
                             (ids,)).fetchall())
    assert [sid for sid, m in marked.items() if m] == [ids[4]]


def test_a_selector_matching_nothing_deletes_nothing(stored):
    db, ids, _ = stored
    before = samples_of(db, ids)
    assert db.execute("SELECT prom_api.delete_series('del{instance=\"nope\"}')").fetchone()[0] == 0
    assert db.execute("SELECT prom_api.delete_series('{__name__=~\"de.\", instance=\"i1\"}', "
                      "now() + interval '1 day', 'infinity')").fetchone()[0] == 0
    assert samples_of(db, ids) == before


@pytest.mark.parametrize("args, message", [
    (("del{", "-infinity", "infinity"), "invalid series selector 'del{'"),
    (('{instance=~".*"}', "-infinity", "infinity"), "at least one non-empty matcher"),
    (("del", "2024-01-02", "2024-01-01"), "end timestamp must not be before start time"),
])
def test_requests_that_cannot_succeed_are_refused(db, args, message):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        db.execute("SELECT prom_api.delete_series(%s, %s, %s)", args)


def test_only_admins_may_delete(db):
    allowed = dict(db.execute(
        "SELECT r, has_function_privilege(r, 'prom_api.delete_series(text, timestamptz, timestamptz)', 'EXECUTE') "
        "FROM unnest(ARRAY['prom_reader', 'prom_writer', 'prom_maintenance', 'prom_admin']) r").fetchall())
    assert allowed == {"prom_reader": False, "prom_writer": False, "prom_maintenance": False, "prom_admin": True}
