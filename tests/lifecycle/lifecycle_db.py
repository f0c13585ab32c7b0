"""Helpers of the lifecycle tests: write scraped-looking samples, read them back bit-exactly."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

STALE_BITS = 0x7FF0000000000002
STALE = struct.unpack("<d", struct.pack("<Q", STALE_BITS))[0]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def series_ids(conn: psycopg.Connection, label_sets: list[dict]) -> list[int]:
    ords, keys, values = [], [], []
    for i, labels in enumerate(label_sets):
        for k, v in labels.items():
            ords.append(i)
            keys.append(k)
            values.append(v)
    rows = conn.execute("SELECT ord, series_id FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                        (ords, keys, values)).fetchall()
    return [sid for _, sid in sorted(rows)]


def put(conn: psycopg.Connection, ids: list[int], times_ms: list[int], values: list[float]) -> int:
    """put_samples with values passed as raw bits, so NaN payloads arrive intact."""
    bits = [struct.unpack("<q", struct.pack("<d", v))[0] for v in values]
    return conn.execute(
        "SELECT prom_api.put_samples(%s::bigint[], "
        "ARRAY(SELECT to_timestamp(t / 1000.0) FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(t, o) ORDER BY o), "
        "ARRAY(SELECT _prom_catalog.float8_from_bits(b) FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(b, o) ORDER BY o))",
        (ids, times_ms, bits)).fetchone()[0]


def install_helpers(conn: psycopg.Connection) -> None:
    """Nothing to install any more: put() uses the extension's bit-exact float8_from_bits."""


def scrape_batch(rng: np.random.Generator, ids: list[int], start_ms: int, steps: int, interval_ms: int = 15000):
    """Per series: regular scrapes with jitter; counters, gauges and a few stale markers."""
    sid_out, t_out, v_out = [], [], []
    for n, sid in enumerate(ids):
        times = start_ms + np.arange(steps) * interval_ms + rng.integers(-5, 6, steps)
        if n % 3 == 0:
            values = np.cumsum(rng.poisson(4, steps)).astype(float)
        elif n % 3 == 1:
            values = np.round(rng.normal(50, 10, steps), 2)
        else:
            values = rng.normal(0, 1, steps)
        if n % 5 == 0:
            values[-1] = STALE
        if n % 7 == 0:
            values[steps // 2] = -0.0
            values[steps // 3] = float("inf")
        sid_out += [sid] * steps
        t_out += times.tolist()
        v_out += values.tolist()
    return sid_out, t_out, v_out


def read_exact(conn: psycopg.Connection, ids: list[int], start: datetime, end: datetime) -> list[tuple]:
    """get_samples with values as raw bits (text would turn every NaN into 'NaN')."""
    return conn.execute(
        "SELECT g.series_id, g.times, ARRAY(SELECT float8send(v) FROM unnest(g.vals) v) "
        "FROM prom_api.get_samples(%s::bigint[], %s, %s) g ORDER BY 1", (ids, start, end)).fetchall()


def view_exact(conn: psycopg.Connection, view: str) -> list[tuple]:
    return conn.execute(
        f'SELECT series_id, time, float8send(value) FROM prom_metric."{view}" ORDER BY series_id, time').fetchall()


def ms(dt: datetime) -> int:
    return int((dt - EPOCH) / timedelta(milliseconds=1))
