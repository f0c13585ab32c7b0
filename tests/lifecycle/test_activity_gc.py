"""Series deleted by garbage collection leave the label lookups: a label (and a label key) that
only deleted series carried disappears from every range, the open one included, while labels
other series still carry keep their bounds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from lifecycle_db import ms, put, series_ids

NOW = datetime.now(timezone.utc)
OPEN = (-9.2e12, 9.2e12)


def values(db, key: str, window=OPEN, match=None) -> list[str]:
    return json.loads(db.execute("SELECT prom_api.label_values_json(%s, %s, %s, %s)", (key, match, *window)
                                 ).fetchone()[0])["data"]


def names(db, window=OPEN, match=None) -> list[str]:
    return json.loads(db.execute("SELECT prom_api.label_names_json(%s, %s, %s)", (match, *window)).fetchone()[0]
                      )["data"]


def test_labels_of_collected_series_leave_the_lookups(db):
    kept, gone = series_ids(db, [{"__name__": "m", "job": "kept"}, {"__name__": "m", "job": "gone", "only_gone": "1"}])
    old = ms(NOW - timedelta(days=20))
    put(db, [kept, gone], [old, old], [1.0, 1.0])
    put(db, [kept], [ms(NOW)], [1.0])
    assert values(db, "job") == ["gone", "kept"] and "only_gone" in names(db)
    assert names(db, match=["m"]) == ["__name__", "job", "only_gone"]
    assert values(db, "job", match=["m"]) == ["gone", "kept"]
    before = db.execute("SELECT first_seen, last_seen FROM _prom_catalog.label WHERE key = 'job' AND value = 'kept'"
                        ).fetchone()

    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.set_default_retention_period('10 days')")
    for _ in range(3):  # retention marks the series, the next runs confirm and delete it
        db.execute("CALL prom_api.execute_maintenance()")
    assert db.execute("SELECT count(*) FROM _prom_catalog.series WHERE id = %s", (gone,)).fetchone()[0] == 0

    assert values(db, "job") == ["kept"]
    assert values(db, "only_gone") == []
    assert "only_gone" not in names(db) and names(db) == ["__name__", "job"]
    assert names(db, match=["m"]) == ["__name__", "job"]  # the metric's keys narrowed too
    assert values(db, "job", match=["m"]) == ["kept"]  # and its labels
    assert values(db, "__name__") == ["m"]
    # a label a live series carries is left alone, its bounds too
    assert db.execute("SELECT first_seen, last_seen FROM _prom_catalog.label WHERE key = 'job' AND value = 'kept'"
                      ).fetchone() == before
    # a new series with the gone label brings it back
    (again,) = series_ids(db, [{"__name__": "m", "job": "gone", "only_gone": "1"}])
    put(db, [again], [ms(NOW)], [1.0])
    assert values(db, "job") == ["gone", "kept"] and "only_gone" in names(db)
    assert names(db, match=["m"]) == ["__name__", "job", "only_gone"]
