"""Maintenance from several sessions while writers keep adding samples into the ranges
being compressed: every sample ends up stored exactly once."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timezone

import psycopg

from lifecycle_db import EPOCH, series_ids

WRITERS = 3
MAINTAINERS = 2
BATCHES = 30
SERIES = 40
HOURS = 6


def test_maintenance_while_ingesting_keeps_every_sample_once(db, db_uri):
    ids = series_ids(db, [{"__name__": "busy", "instance": str(i)} for i in range(SERIES)])
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.set_default_retention_period('36500 days')")  # 1970 stays
    db.execute("SELECT prom_api.set_compressed_chunk_interval('2 hours')")
    # every (series, time) slot of 6 hours at 15 s, dealt out to the writers in random batches
    slots = [(sid, h) for sid in ids for h in range(HOURS * 240)]
    random.Random(3).shuffle(slots)
    per_batch = len(slots) // (WRITERS * BATCHES)
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def writer(n: int) -> None:
        try:
            with psycopg.connect(db_uri, autocommit=True) as conn:
                for b in range(BATCHES):
                    chunk = slots[(n * BATCHES + b) * per_batch:(n * BATCHES + b + 1) * per_batch]
                    # half of each batch is sent twice, as a retrying client would
                    chunk = chunk + chunk[: len(chunk) // 2]
                    conn.execute(
                        "SELECT prom_api.put_samples(%s::bigint[], "
                        "ARRAY(SELECT timestamptz 'epoch' + s * interval '15 seconds' FROM unnest(%s::int[]) "
                        "WITH ORDINALITY u(s, o) ORDER BY o), %s::float8[])",
                        ([s for s, _ in chunk], [h for _, h in chunk], [float(s * 100000 + h) for s, h in chunk]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def maintainer() -> None:
        try:
            with psycopg.connect(db_uri, autocommit=True) as conn:
                while not writers_done.is_set():
                    conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    maintainers = [threading.Thread(target=maintainer) for _ in range(MAINTAINERS)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in maintainers + writers:
        t.start()
    for t in writers:
        t.join(timeout=300)
    writers_done.set()
    for t in maintainers:
        t.join(timeout=300)
    assert not errors, errors

    written = slots[: WRITERS * BATCHES * per_batch]
    expected = {(s, h): float(s * 100000 + h) for s, h in written}
    compressed_while_writing = db.execute("SELECT coalesce(sum(count), 0) FROM prom_data.compressed_sample").fetchone()[0]
    assert compressed_while_writing > 0

    def stored() -> dict:
        rows = db.execute("SELECT series_id, times, vals FROM prom_api.get_samples(%s, %s, %s)",
                          (ids, EPOCH, datetime(1971, 1, 1, tzinfo=timezone.utc))).fetchall()
        out = {}
        for sid, times, vals in rows:
            for t, v in zip(times, vals):
                out[(sid, int((t - EPOCH).total_seconds()) // 15)] = v
        assert sum(len(r[1]) for r in rows) == len(out)
        return out

    assert stored() == expected
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 0
    assert db.execute("SELECT sum(count) FROM prom_data.compressed_sample").fetchone()[0] == len(expected)
    assert stored() == expected
