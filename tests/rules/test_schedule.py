"""Evaluation slots and alert state, as Prometheus 2.42 computes them (pure functions)."""

from __future__ import annotations

from promscale.rules import alerts as A
from promscale.rules.store import group_offset_ns
from promscale.rules.xxhash import xxh64
from pyconnector.rules.schedule import Group, first_slot, next_slot, slot_at_or_before


def test_xxh64_known_values():
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1


def test_offset_is_the_hash_of_file_and_name_modulo_the_interval():
    interval = 60 * 10**9
    offset = group_offset_ns("/etc/rules.yml", "g", interval)
    assert offset == xxh64(b"file\xff/etc/rules.yml\xffname\xffg\xff") % interval
    assert offset != group_offset_ns("/etc/rules.yml", "h", interval)


def test_slots():
    g = Group("", "g", interval_ns=10, offset_ns=3)
    assert slot_at_or_before(g, 25) == 23 and slot_at_or_before(g, 23) == 23 and slot_at_or_before(g, 22) == 13
    assert first_slot(g, 25) == 33
    assert next_slot(g, 33, 35) == 43  # the next one is still ahead
    assert next_slot(g, 33, 71) == 63  # late: missed slots are skipped, the latest past one runs


def alert(ts: int) -> dict:
    return {"labels": {"alertname": "A"}, "annotations": {}, "activeAt": ts, "state": "pending", "value": 1.0}


def test_pending_firing_resolved_and_forgotten():
    key = A.key_of({"alertname": "A"})
    active: dict = {}
    active, _ = A.step(active, {key: alert(0)}, 0, hold_ms=20, keep_firing_ms=0, limit=0)
    assert active[key]["state"] == "pending"
    active, _ = A.step(active, {key: alert(20)}, 20, 20, 0, 0)
    assert active[key]["state"] == "firing" and active[key]["firedAt"] == 20 and active[key]["activeAt"] == 0
    active, _ = A.step(active, {}, 30, 20, 0, 0)
    assert active[key]["state"] == "inactive" and active[key]["resolvedAt"] == 30
    active, _ = A.step(active, {}, 30 + A.RESOLVED_RETENTION_MS + 1, 20, 0, 0)
    assert active == {}


def test_keep_firing_for():
    key = A.key_of({"alertname": "A"})
    active, _ = A.step({}, {key: alert(0)}, 0, 0, 15, 0)
    assert active[key]["state"] == "firing"
    active, _ = A.step(active, {}, 10, 0, 15, 0)
    assert active[key]["state"] == "firing"
    active, _ = A.step(active, {}, 25, 0, 15, 0)
    assert active[key]["state"] == "inactive"


def test_restore_after_a_pause_keeps_the_time_left_but_at_least_the_grace_period():
    minute = 60_000
    hold = 30 * minute
    a = {"x": dict(alert(0))}
    A.restore(a, down_at=20 * minute, ts=25 * minute, hold_ms=hold)  # 10m left: shifted by the pause
    assert a["x"]["activeAt"] == 5 * minute
    b = {"x": dict(alert(0))}
    A.restore(b, down_at=25 * minute, ts=27 * minute, hold_ms=hold)  # 5m left < grace: fires after 10m
    assert b["x"]["activeAt"] == 27 * minute + A.FOR_GRACE_PERIOD_MS - hold
    c = {"x": dict(alert(0))}
    A.restore(c, down_at=25 * minute, ts=25 * minute + A.OUTAGE_TOLERANCE_MS + 1, hold_ms=hold)
    assert c == {}
