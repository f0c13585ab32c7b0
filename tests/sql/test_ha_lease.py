"""The HA lease of Prometheus pairs (sql/idempotent/065-ha.sql): one leader per cluster in
sample time; extensions once per refresh; a takeover only after the lease ended, from its end;
past leases kept for backfill; concurrent electors agree."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)



def update(conn: psycopg.Connection, cluster: str, replica: str, min_s: float, max_s: float) -> tuple:
    # -infinity (the start of a cluster's first lease) as None: psycopg has no datetime for it
    return conn.execute("SELECT leader_name, CASE WHEN isfinite(lease_start) THEN lease_start END, "
                        "lease_until, refresh_at FROM prom_api.update_ha_lease(%s, %s, %s, %s)",
                        (cluster, replica, at(min_s), at(max_s))).fetchone()


@pytest.fixture
def writer(pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_writer"), autocommit=True) as conn:
        yield conn


def test_defaults_and_first_writer_leads(writer):
    assert writer.execute("SELECT prom_api.get_ha_lease_timeout(), prom_api.get_ha_lease_refresh()").fetchone() == (
        timedelta(minutes=1), timedelta(seconds=10))
    assert update(writer, "c1", "r1", 0, 5) == ("r1", None, at(65), at(15))
    # the other replica inside the lease: the lease is unchanged
    assert update(writer, "c1", "r2", 3, 30) == ("r1", None, at(65), at(15))
    assert writer.execute("SELECT cluster_name, leader_name, nullif(lease_start, '-infinity'), lease_until "
                          "FROM prom_info.ha_leader").fetchall() == [("c1", "r1", None, at(65))]


def test_leader_extends_once_per_refresh(writer, db):
    update(writer, "c1", "r1", 0, 5)                       # until 65
    xmin = db.execute("SELECT xmin::text FROM _prom_catalog.ha_lease").fetchone()[0]
    assert update(writer, "c1", "r1", 5, 14) == ("r1", None, at(65), at(15))
    assert db.execute("SELECT xmin::text FROM _prom_catalog.ha_lease").fetchone()[0] == xmin, \
        "a request before refresh_at must not write the row"
    assert update(writer, "c1", "r1", 14, 15) == ("r1", None, at(75), at(25))
    # an older request (out of order) never shortens the lease
    assert update(writer, "c1", "r1", 1, 2) == ("r1", None, at(75), at(25))


def test_takeover_only_after_expiry_from_the_end_of_the_old_lease(writer, db):
    update(writer, "c1", "r1", 0, 5)                       # r1 until 65
    assert update(writer, "c1", "r2", 60, 64.999)[0] == "r1"
    # r2's samples reach the end of r1's lease: r2 leads from 65, where r1 stopped
    assert update(writer, "c1", "r2", 60, 66) == ("r2", at(65), at(126), at(76))
    assert update(writer, "c1", "r1", 65, 70)[0] == "r2", "the old leader cannot take back an unexpired lease"
    assert db.execute("SELECT cluster_name, leader_name, nullif(lease_start, '-infinity'), lease_until, current "
                      "FROM prom_info.ha_lease_history ORDER BY lease_start").fetchall() == [
        ("c1", "r1", None, at(65), False), ("c1", "r2", at(65), at(126), True)]


def test_history_gives_the_ranges_a_replica_led(writer):
    update(writer, "c1", "r1", 0, 5)                       # r1 [0, 65)
    update(writer, "c1", "r2", 65, 70)                     # r2 [65, 130)
    update(writer, "c1", "r1", 130, 131)                   # r1 [130, 191)
    update(writer, "c1", "r2", 200, 200)                   # r2 [191, 260)
    history = lambda r: writer.execute(  # noqa: E731
        "SELECT nullif(lease_start, '-infinity'), lease_until FROM prom_api.get_ha_lease_history('c1', %s)",
        (r,)).fetchall()
    assert history("r1") == [(None, at(65)), (at(130), at(191))]  # the first lease reaches back to -infinity
    assert history("r2") == [(at(65), at(130))]            # the current lease is not history
    assert history("r3") == []


def test_clusters_are_independent(writer):
    update(writer, "a", "r1", 0, 1)
    assert update(writer, "b", "r2", 0, 1)[0] == "r2"
    assert update(writer, "a", "r2", 0, 1)[0] == "r1"


def test_settings(pg_cluster, db_name, db, writer):
    db.execute("SELECT prom_api.set_ha_lease_refresh('1s'), prom_api.set_ha_lease_timeout('5s')")
    assert update(writer, "c1", "r1", 0, 1) == ("r1", None, at(6), at(2))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="longer than the lease refresh"):
        db.execute("SELECT prom_api.set_ha_lease_timeout('1s')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="shorter than the lease timeout"):
        db.execute("SELECT prom_api.set_ha_lease_refresh('5s')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least"):
        db.execute("SELECT prom_api.set_ha_lease_refresh('0.5s')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("SELECT prom_api.set_ha_lease_timeout('10m')")


@pytest.mark.parametrize("args, message", [
    (("", "r1", at(0), at(1)), "needs a cluster and a replica"),
    (("c1", None, at(0), at(1)), "needs a cluster and a replica"),
    (("c1", "r1", at(2), at(1)), "invalid sample time range"),
    (("c1", "r1", None, at(1)), "invalid sample time range"),
    (("c1", "r1", "-infinity", at(1)), "invalid sample time range"),
])
def test_bad_arguments(writer, args, message):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        writer.execute("SELECT * FROM prom_api.update_ha_lease(%s, %s, %s::timestamptz, %s::timestamptz)", args)


def test_writers_cannot_change_leases_directly(writer):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("UPDATE _prom_catalog.ha_lease SET leader_name = 'x'")


@pytest.mark.parametrize("first_lease", [False, True])
def test_concurrent_electors_agree(db_uri, db, first_lease):
    """Many sessions claim the same cluster for different replicas at once, round after round
    of expiring leases: each round every session is told the same leader, and the leases
    never overlap."""
    sessions = 8
    rounds = 15
    if not first_lease:
        db.execute("SELECT prom_api.update_ha_lease('c', 'seed', %s, %s)", (at(0), at(0)))
    answers: list[list[tuple]] = [[] for _ in range(sessions)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(sessions)

    def elector(n: int) -> None:
        try:
            with psycopg.connect(db_uri, autocommit=True) as conn:
                for k in range(rounds):
                    barrier.wait(timeout=60)
                    # round k's samples lie past every lease of round k - 1 (timeout 60 s)
                    t = 1000 * (k + 1)
                    answers[n].append(update(conn, "c", f"replica-{n}", t, t + n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=elector, args=(n,)) for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    leases = db.execute("SELECT leader_name, nullif(lease_start, '-infinity'), lease_until FROM prom_info.ha_lease_history "
                        "WHERE cluster_name = 'c' ORDER BY lease_start").fetchall()
    starts = {(leader, start): until for leader, start, until in leases}
    for k in range(rounds):
        # every round's samples lie past the previous round's lease: exactly one session wins it
        # (the first to lock the row; it may be the previous winner, which then just extends)
        winners = {answers[n][k][0] for n in range(sessions) if answers[n][k][0] == f"replica-{n}"}
        assert len(winners) == 1, (k, [answers[n][k] for n in range(sessions)])
        for n in range(sessions):
            leader, start, until, _ = answers[n][k]
            # every answer is a lease that the history holds (the final one may have grown since)
            assert (leader, start) in starts and until <= starts[(leader, start)], (answers[n][k], leases)
            if leader == f"replica-{n}":
                t = 1000 * (k + 1)
                assert (start is None or start <= at(t)) and at(t + n) < until, "a winner's samples lie inside its lease"
    for (_, _, end), (_, start, _) in zip(leases, leases[1:]):
        assert start == end, f"leases must meet without gap or overlap: {leases}"
