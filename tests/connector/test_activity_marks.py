"""The connector marks series activity (sql/idempotent/045-activity.sql) in the write's own
transaction, only for series whose samples the bounds it remembers do not cover, and the
lookups then see what it wrote."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from pyconnector import Config, create_app
from support.remote_write import HEADERS, encode, write_request

T0 = 1_700_000_000_000
MINUTE = 60_000


@pytest.fixture
def app(pg_cluster, db_name, tmp_path):
    app = create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path)))
    calls: list[int] = []  # series marked per write
    write = app.prometheus.ingestor.db.write

    def counting_write(*args, activity=None, **kwargs):
        calls.append(0 if activity is None else len(activity.series_ids))
        return write(*args, activity=activity, **kwargs)

    app.prometheus.ingestor.db.write = counting_write
    app.marked = calls
    return app


def push(app, series) -> None:
    response = Client(app).post("/write", data=encode(write_request(series)), headers=HEADERS)
    assert response.status_code == 204, response.get_data(as_text=True)


def scrape(t_ms: int, hosts=("a", "b", "c")):
    return [({"__name__": "up", "job": "node", "instance": h}, [(t_ms, 1.0)]) for h in hosts]


def test_marks_only_what_the_remembered_bounds_do_not_cover(app, db):
    push(app, scrape(T0))
    assert app.marked == [0]  # new series: created with bounds covering their samples
    for step in range(1, 20):  # 15 s scrapes for ~5 minutes: inside the bounds
        push(app, scrape(T0 + step * 15_000))
    assert app.marked[1:] == [0] * 19
    assert len(app.prometheus.ingestor.activity) == 3
    # past the bounds (at least G = 20 minutes ahead of the first sample): marked again
    push(app, scrape(T0 + 45 * MINUTE))
    assert app.marked[-1] == 3
    # a backfill below the first sample: marked
    push(app, scrape(T0 - 60 * MINUTE, hosts=("a",)))
    assert app.marked[-1] == 1
    rows = db.execute("SELECT first_seen, last_seen FROM _prom_catalog.series ORDER BY id").fetchall()
    assert all(first.timestamp() * 1000 <= T0 - 60 * MINUTE for first, _ in rows[:1])
    assert all(last.timestamp() * 1000 >= T0 + 45 * MINUTE for _, last in rows)


def test_a_fresh_connector_learns_the_bounds_as_it_resolves(app, db, pg_cluster, db_name, tmp_path):
    """A restarted connector (empty caches) gets the series' bounds with their ids, and marks
    only what they do not cover: nothing for the next scrape (a series new in it is created
    with bounds covering its samples), the series past them later."""
    push(app, scrape(T0))
    before = db.execute("SELECT id, xmin::text FROM _prom_catalog.series ORDER BY id").fetchall()
    other = create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path)))
    marked: list[int] = []
    write = other.prometheus.ingestor.db.write

    def counting_write(*args, activity=None, **kwargs):
        marked.append(0 if activity is None else len(activity.series_ids))
        return write(*args, activity=activity, **kwargs)

    other.prometheus.ingestor.db.write = counting_write
    push(other, scrape(T0 + 15_000, hosts=("a", "b", "c", "d")))
    assert marked == [0]
    assert len(other.prometheus.ingestor.activity) == 4
    first, last = db.execute("SELECT s.first_seen, s.last_seen FROM _prom_catalog.series s "
                             "WHERE s.labels @> ARRAY[(SELECT l.id FROM _prom_catalog.label l "
                             "                         WHERE l.key = 'instance' AND l.value = 'd')]").fetchone()
    assert first.timestamp() * 1000 == T0 + 15_000 < last.timestamp() * 1000
    assert db.execute("SELECT id, xmin::text FROM _prom_catalog.series ORDER BY id").fetchall()[:3] == before
    push(other, scrape(T0 + 45 * MINUTE, hosts=("a",)))
    assert marked[-1] == 1  # past the bounds it learnt


def test_what_the_connector_writes_is_what_the_lookups_see(app):
    push(app, scrape(T0, hosts=("a", "b")))
    push(app, scrape(T0 + 3 * 60 * MINUTE, hosts=("c",)))
    client = Client(app)

    def values(**window):
        return json.loads(client.get("/api/v1/label/instance/values", query_string=window).get_data())["data"]

    assert values() == ["a", "b", "c"]
    assert values(start=str(T0 / 1000), end=str(T0 / 1000 + 60)) == ["a", "b"]
    assert values(start=str(T0 / 1000 + 2 * 3600), end=str(T0 / 1000 + 4 * 3600)) == ["c"]
