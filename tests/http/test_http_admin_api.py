"""POST/PUT /api/v1/admin/tsdb/delete_series through the WSGI application: Prometheus's
parameters and answers, deletion on the head and both compressed levels of the selected
series only, all match[] in one transaction, and the two things a deployment must switch on
(--web-enable-admin-api, and prom_admin for the connector's database login role)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from werkzeug.test import Client

from lifecycle_db import ms, put, read_exact, scrape_batch, series_ids
from pyconnector import Config, create_app

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
ADMIN_TOKEN = "admin-token-0123456789"
PATH = "/api/v1/admin/tsdb/delete_series"


def ensure_admin_login(db: psycopg.Connection) -> None:
    """A login role as the admin API needs it: prom_writer, as the connector's usual role, and prom_admin."""
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'promscale_admin') THEN "
               "CREATE ROLE promscale_admin LOGIN IN ROLE prom_writer, prom_admin; END IF; END $$")


def levels(db: psycopg.Connection, ids: list[int]) -> dict[str, int]:
    compressed = dict(db.execute("SELECT level, sum(count) FROM prom_data.compressed_sample "
                                 "WHERE series_id = ANY (%s) GROUP BY 1", (ids,)).fetchall())
    head = db.execute("SELECT count(*) FROM prom_data.sample WHERE series_id = ANY (%s)", (ids,)).fetchone()[0]
    return {"head": head, "level1": compressed.get(1, 0), "level2": compressed.get(2, 0)}


def samples_of(db, ids):
    return {sid: list(zip(times, vals)) for sid, times, vals in read_exact(db, ids, *FAR)}


@pytest.fixture
def stored(db):
    """Two metrics of three instances, 30 hours of 30 s scrapes ending now, maintained so that
    samples are on the head and both compressed levels."""
    ensure_admin_login(db)
    rng = np.random.default_rng(9)
    ids = series_ids(db, [{"__name__": name, "instance": f"i{i}"} for name in ("del", "keep") for i in range(3)])
    now = datetime.now(timezone.utc)
    steps = 30 * 120
    start = ms(now) - 30 * (steps - 1) * 1000 - 1000
    for first in range(0, steps, 1200):
        put(db, *scrape_batch(rng, ids, start + first * 30_000, min(1200, steps - first), interval_ms=30_000))
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")
    where = levels(db, ids)
    assert where["head"] > 0 and where["level1"] > 0 and where["level2"] > 0, where
    return db, ids, now


def connector(pg_cluster, db_name, tmp_path, login="promscale_admin", **options) -> Client:
    options.setdefault("web_enable_admin_api", True)
    return Client(create_app(Config(db_uri=pg_cluster.uri(db_name, login), telemetry_dir=str(tmp_path / "t"),
                                    **options)))


def whole_ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def test_deletes_the_range_of_the_selected_series_on_every_level(stored, pg_cluster, db_name, tmp_path):
    db, ids, now = stored
    before = samples_of(db, ids)
    # from mid-bucket 20 hours ago (compacted rows cut) to 2 minutes ago (the head, flushed rows)
    start, end = whole_ms(now - timedelta(hours=20, minutes=7)), whole_ms(now - timedelta(minutes=2))
    api = connector(pg_cluster, db_name, tmp_path)
    response = api.post(PATH, data={"match[]": ['del{instance="i0"}', 'del{instance="i2"}'],
                                    "start": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                    "end": f"{ms(end) / 1000:.3f}"})
    assert response.status_code == 204 and response.data == b""
    selected = {ids[0], ids[2]}
    expected = {sid: [(t, v) for t, v in samples if sid not in selected or not start <= t <= end]
                for sid, samples in before.items()}
    assert samples_of(db, ids) == expected
    assert all(len(expected[sid]) < len(before[sid]) for sid in selected)
    # no start and no end: all of it; PUT as Prometheus also serves it
    response = api.put(PATH, query_string={"match[]": 'del{instance="i1"}'})
    assert response.status_code == 204
    assert levels(db, [ids[1]]) == {"head": 0, "level1": 0, "level2": 0}
    assert samples_of(db, ids) == {sid: s for sid, s in expected.items() if sid != ids[1]}


@pytest.mark.parametrize("form, message", [
    ({}, "no match[] parameter provided"),
    ({"match[]": ["del", "del{"]}, 'invalid parameter "match[]": invalid series selector \'del{\''),
    ({"match[]": ['{instance=~".*"}']}, 'invalid parameter "match[]": '),
    ({"match[]": "del", "start": "yesterday"},
     'invalid parameter "start": Invalid time value for \'start\': cannot parse "yesterday" to a valid timestamp'),
    ({"match[]": "del", "end": "1e"}, 'invalid parameter "end": Invalid time value for \'end\''),
    ({"match[]": "del", "start": "100", "end": "99"},
     'invalid parameter "end": end timestamp must not be before start time'),
])
def test_bad_requests_are_400_and_delete_nothing(stored, pg_cluster, db_name, tmp_path, form, message):
    db, ids, _ = stored
    before = samples_of(db, ids)
    response = connector(pg_cluster, db_name, tmp_path).post(PATH, data=form)
    assert response.status_code == 400
    body = response.json
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith(message), body
    assert samples_of(db, ids) == before


def test_without_the_flag_the_admin_api_is_disabled(pg_cluster, db_name, db, tmp_path):
    ensure_admin_login(db)
    api = connector(pg_cluster, db_name, tmp_path, web_enable_admin_api=False)
    response = api.post(PATH, data={"match[]": "del"})
    assert (response.status_code, response.json) == (
        500, {"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"})


def test_a_login_role_without_prom_admin_is_told_what_to_grant(stored, pg_cluster, db_name, tmp_path):
    db, ids, _ = stored
    before = samples_of(db, ids)
    response = connector(pg_cluster, db_name, tmp_path, login="promscale_writer").post(PATH, data={"match[]": "del"})
    assert response.status_code == 500
    assert response.json["errorType"] == "unavailable"
    assert "GRANT prom_admin TO the role of --db-uri" in response.json["error"]
    assert samples_of(db, ids) == before


def test_with_auth_only_the_admin_role_deletes(stored, pg_cluster, db_name, tmp_path):
    db, ids, _ = stored
    (tmp_path / "tokens").write_text(f"{ADMIN_TOKEN} admin\nwrite-token-0123456789 write\n")
    api = connector(pg_cluster, db_name, tmp_path, auth_token_file=str(tmp_path / "tokens"))
    before = samples_of(db, ids)
    assert api.post(PATH, data={"match[]": "keep"}).status_code == 401
    assert api.post(PATH, data={"match[]": "keep"},
                    headers={"Authorization": "Bearer write-token-0123456789"}).status_code == 403
    assert samples_of(db, ids) == before
    response = api.post(PATH, data={"match[]": "keep"}, headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert response.status_code == 204
    assert samples_of(db, ids) == {sid: s for sid, s in before.items() if sid in ids[:3]}
