"""From a decoded remote_write request to committed rows.

Order of work: decode everything and validate every new series before touching
the database (a bad request writes nothing), resolve the series ids the cache
lacks in one call, then write samples, exemplars and metadata in one
transaction. The caller answers 2xx only after this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..db import ActivityBatch, Database, DatabaseUnavailable, ExemplarBatch, MetadataBatch, SampleBatch, StaleSeries
from ..pgbinary import Float8Array, Int8Array, TimestamptzArray
from .activity import ActivityCache, Marks, time_ranges
from .remote_write import DecodedWrite, canonical_labels
from .series_cache import SeriesCache


# A batch spanning more than this (a backfill) gets its partitions created ahead of the write.
WIDE_BATCH_MS = 24 * 3600 * 1000


@dataclass
class IngestResult:
    samples: int
    series: int
    exemplars: int
    metadata: int
    histograms_dropped: int
    cache_hits: int
    cache_misses: int


class Ingestor:
    def __init__(self, db: Database, cache: SeriesCache, activity: ActivityCache | None = None):
        self.db = db
        self.cache = cache
        # what the activity bounds of the series already cover (activity.py)
        self.activity = activity or ActivityCache(cache.max_entries)

    def series_ids(self, keys: list, sample_ranges: Marks | None = None) -> tuple[list[int], int, int]:
        """Series id per key, how many of the lookups missed the cache, and the series
        epoch the ids are valid in (read before resolving, so never newer than the ids).
        ``sample_ranges`` (by key index) give the series created here their activity bounds."""
        epoch = self.cache.epoch
        if epoch is None:
            epoch = self.cache.adopt_epoch(self.db.series_epoch())
        ids = self.cache.lookup(keys)
        missed = ids.count(None)
        if not missed:
            return ids, 0, epoch  # type: ignore[return-value]
        missing = list(dict.fromkeys(key for key, sid in zip(keys, ids) if sid is None))
        label_sets = [canonical_labels(key) for key in missing]  # BadRequest before any write
        first_times, last_times = _times_of(missing, keys, ids, sample_ranges)
        resolved, bounds = self.db.resolve_series(label_sets, first_times, last_times)
        found = dict(zip(missing, resolved))
        self.cache.store(found, epoch)
        # what the database's activity bounds already cover needs no mark: after a restart most
        # series, and every series created here
        self.activity.store(*(np.asarray(column, dtype=np.int64) for column in bounds))
        return [sid if sid is not None else found[key] for key, sid in zip(keys, ids)], missed, epoch

    def ingest(self, write: DecodedWrite) -> IngestResult:
        sample_ranges = None
        if len(write.times_ms):
            sample_ranges = time_ranges(np.arange(len(write.keys)), write.sample_counts, write.times_ms)
        ids, misses, epoch = self.series_ids(write.keys, sample_ranges)
        try:
            self._write(write, ids, epoch, sample_ranges)
        except StaleSeries:
            # retention deleted series since this worker's cache was filled: start the cache
            # over, resolve the request's series again (reviving or recreating them), write once more
            self.cache.invalidate(epoch)
            self.activity.clear()
            ids, misses, epoch = self.series_ids(write.keys, sample_ranges)
            try:
                self._write(write, ids, epoch, sample_ranges)
            except StaleSeries as exc:  # garbage collection ran again meanwhile: let the client retry
                raise DatabaseUnavailable(f"series were deleted while this request was written: {exc}") from exc
        return IngestResult(
            samples=len(write.times_ms),
            series=len(write.keys),
            exemplars=len(write.exemplars.ts_index),
            metadata=len(write.metadata[0]),
            histograms_dropped=write.histograms_dropped,
            cache_hits=len(write.keys) - misses,
            cache_misses=misses,
        )

    def _write(self, write: DecodedWrite, ids: list[int], epoch: int, sample_ranges: Marks | None) -> None:
        """``sample_ranges``: the time range of each key's samples (by key index), from ingest."""
        series_of_ts = np.array(ids, dtype=np.int64)
        samples = None
        due = None
        if sample_ranges is not None:
            # in series id order: the head's series_id index then takes its entries in key order
            # (neighbouring leaf pages, ~0.6 us less per row than the request's order)
            sample_series = np.repeat(series_of_ts, write.sample_counts)
            order = np.argsort(sample_series, kind="stable")
            samples = SampleBatch(
                Int8Array.of(sample_series[order]),
                TimestamptzArray.from_unix_ms(write.times_ms[order]),
                Float8Array.of(write.values[order]),
            )
            due = self.activity.due(Marks(series_of_ts[sample_ranges.series_ids], sample_ranges.min_ms,
                                          sample_ranges.max_ms))
        exemplars = None
        if write.exemplars.ts_index:
            exemplars = ExemplarBatch(
                Int8Array.of(series_of_ts[write.exemplars.ts_index]),
                TimestamptzArray.from_unix_ms(np.array(write.exemplars.times_ms, dtype=np.int64)),
                Float8Array.of(np.array(write.exemplars.values, dtype=np.float64)),
                write.exemplars.labels,
            )
        metadata = MetadataBatch(*write.metadata) if write.metadata[0] else None
        if samples and write.times_ms.max() - write.times_ms.min() > WIDE_BATCH_MS:
            self.db.prepare_sample_chunks(samples.times)  # backfill: partitions first, in small steps
        if samples or exemplars or metadata:
            activity = None
            if due is not None:
                activity = ActivityBatch(Int8Array.of(due.series_ids), TimestamptzArray.from_unix_ms(due.min_ms),
                                         TimestamptzArray.from_unix_ms(due.max_ms))
            marked = self.db.write(samples, exemplars, metadata, series_epoch=epoch, activity=activity)
            if marked is not None:  # committed: remember what the bounds cover now
                self.activity.store(*marked)


def _times_of(missing: list, keys: list, ids: list, sample_ranges: Marks | None
              ) -> tuple[TimestamptzArray | None, TimestamptzArray | None]:
    """The time range of the samples of each ``missing`` key in this request (a key may repeat:
    the union), as resolve_series takes them; NULL for a key without samples."""
    if sample_ranges is None:
        return None, None
    lo: dict = {}
    hi: dict = {}
    for ts, first_ms, last_ms in zip(sample_ranges.series_ids.tolist(), sample_ranges.min_ms.tolist(),
                                     sample_ranges.max_ms.tolist()):
        if ids[ts] is None:
            key = keys[ts]
            lo[key] = min(lo.get(key, first_ms), first_ms)
            hi[key] = max(hi.get(key, last_ms), last_ms)
    nulls = np.array([key not in lo for key in missing], dtype=bool)
    return (TimestamptzArray.from_unix_ms(np.array([lo.get(key, 0) for key in missing], dtype=np.int64), nulls),
            TimestamptzArray.from_unix_ms(np.array([hi.get(key, 0) for key in missing], dtype=np.int64), nulls))
