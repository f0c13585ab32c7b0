"""What the database's activity bounds already cover, per series, per worker process.

The extension keeps, for every series, label and label key, coarse time bounds of its samples
(sql/idempotent/045-activity.sql); the HTTP API's series and label lookups read them instead
of samples. A write must widen the bounds of its series when its samples fall outside them,
in the same transaction. The bounds move rarely (a series scraped steadily needs it once
every 20 to 40 minutes), so the connector remembers, per series id, the bounds the database
returned the last time it marked the series, and calls prom_api.mark_series_activity only for
the series of a request whose samples fall outside them.

The check runs on every request, for every series of it, so it is vectorised: the bounds
live in NumPy arrays sorted by series id (a large, rarely rebuilt part and a small part for
recent additions) and a request's series are looked up with ``searchsorted``: 0.1 ms for a
request of 2,000 series with 10,000 remembered, 0.25 ms with 1,000,000, where a dict lookup per
series took 0.5 ms.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_EMPTY = np.empty(0, dtype=np.int64)
UNKNOWN_LO = np.iinfo(np.int64).max  # an unknown series is covered by nothing
UNKNOWN_HI = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Marks:
    """Series to mark: ids and their sample time range (Unix ms) in this request."""

    series_ids: np.ndarray
    min_ms: np.ndarray
    max_ms: np.ndarray


def time_ranges(series_of_ts: np.ndarray, sample_counts: np.ndarray, times_ms: np.ndarray) -> Marks:
    """(id, first sample time, last sample time) of every series of a request that has samples
    (``times_ms`` holds the samples of each series in turn, ``sample_counts`` of them each)."""
    counts = np.asarray(sample_counts, dtype=np.int64)
    with_samples = counts > 0
    if len(counts) == len(times_ms) and with_samples.all():  # one sample per series: the usual request
        return Marks(series_of_ts, times_ms, times_ms)
    starts = (np.cumsum(counts) - counts)[with_samples]
    return Marks(series_of_ts[with_samples], np.minimum.reduceat(times_ms, starts),
                 np.maximum.reduceat(times_ms, starts))


class _Sorted:
    """Bounds by series id in arrays sorted by id (immutable once built, except that a known
    id's bounds are widened in place)."""

    def __init__(self, ids: np.ndarray = _EMPTY, lo: np.ndarray = _EMPTY, hi: np.ndarray = _EMPTY):
        self.ids, self.lo, self.hi = ids, lo, hi

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, found): where each id is, and whether it is there at all."""
        if not len(self.ids):
            return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self.ids, ids)
        pos[pos >= len(self.ids)] = 0
        return pos, self.ids[pos] == ids


class ActivityCache:
    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError("activity cache size must be at least 1")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._main = _Sorted()
        self._recent = _Sorted()

    def __len__(self) -> int:
        return len(self._main.ids) + len(self._recent.ids)

    def due(self, marks: Marks) -> Marks | None:
        """The part of ``marks`` whose samples the remembered bounds do not cover (None: all
        covered), in series id order."""
        # searching with sorted ids walks the large array in order: 0.14 instead of 0.31 ms for
        # 2,000 series among 1,000,000
        order = np.argsort(marks.series_ids, kind="stable")
        ids, min_ms, max_ms = marks.series_ids[order], marks.min_ms[order], marks.max_ms[order]
        lo = np.full(len(ids), UNKNOWN_LO, dtype=np.int64)
        hi = np.full(len(ids), UNKNOWN_HI, dtype=np.int64)
        # a store running meanwhile may move entries between the parts: at worst a series is
        # marked once more, which the database finds already covered
        for part in (self._main, self._recent):
            if len(part.ids):
                pos, found = part.find(ids)
                lo = np.where(found, part.lo[pos], lo)
                hi = np.where(found, part.hi[pos], hi)
        outside = (min_ms < lo) | (max_ms > hi)
        if not outside.any():
            return None
        return Marks(ids[outside], min_ms[outside], max_ms[outside])

    def store(self, series_ids: np.ndarray, lo_ms: np.ndarray, hi_ms: np.ndarray) -> None:
        """Remember the bounds the database holds for these series (after the write committed)."""
        if not len(series_ids):
            return
        ids, first = np.unique(np.asarray(series_ids, dtype=np.int64), return_index=True)
        lo = np.asarray(lo_ms, dtype=np.int64)[first]
        hi = np.asarray(hi_ms, dtype=np.int64)[first]
        with self._lock:
            main, recent = self._main, self._recent
            pos, found = main.find(ids)
            if found.any():  # known: widen in place (bounds only ever widen)
                main.lo[pos[found]] = np.minimum(main.lo[pos[found]], lo[found])
                main.hi[pos[found]] = np.maximum(main.hi[pos[found]], hi[found])
            new = ~found
            ids, lo, hi = ids[new], lo[new], hi[new]
            if not len(ids):
                return
            # the rest joins (or replaces its entry in) the small part; entries there are kept
            pos, found = recent.find(ids)
            keep = np.ones(len(recent.ids), dtype=bool)
            keep[pos[found]] = False
            merged_ids = np.concatenate([recent.ids[keep], ids])
            order = np.argsort(merged_ids, kind="stable")
            recent = _Sorted(merged_ids[order], np.concatenate([recent.lo[keep], lo])[order],
                             np.concatenate([recent.hi[keep], hi])[order])
            if len(recent.ids) > max(4096, len(main.ids) // 8) or len(main.ids) + len(recent.ids) > self.max_entries:
                main, recent = self._merged(main, recent), _Sorted()
            self._main, self._recent = main, recent

    def _merged(self, main: _Sorted, recent: _Sorted) -> _Sorted:
        """One sorted part of both (disjoint); over the size limit, the series whose bounds end
        first (those that stopped being written longest ago) are forgotten, a tenth of the limit
        more than needed, so that a full cache does not merge on every store."""
        ids = np.concatenate([main.ids, recent.ids])
        lo = np.concatenate([main.lo, recent.lo])
        hi = np.concatenate([main.hi, recent.hi])
        if len(ids) > self.max_entries:
            room = self.max_entries - self.max_entries // 10
            keep = np.sort(np.argsort(hi, kind="stable")[len(ids) - room:])
            ids, lo, hi = ids[keep], lo[keep], hi[keep]
        order = np.argsort(ids, kind="stable")
        return _Sorted(ids[order], lo[order], hi[order])

    def clear(self) -> None:
        with self._lock:
            self._main, self._recent = _Sorted(), _Sorted()
