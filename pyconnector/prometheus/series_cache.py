"""Series ids by raw label bytes, bounded, per worker process.

Keys are tuples of raw Label messages exactly as the request carried them, so a
cache hit costs no decoding at all. Eviction is first-in-first-out in chunks:
cheap, and a real working set of active series stays resident because Prometheus
sends every active series at every scrape.

Entries belong to a *series epoch* (prom_api.get_series_epoch()): when retention deletes
series, the epoch moves on, the database refuses writes made with the old one, and the
cache starts over. Entries resolved under an older epoch are never stored in a newer one.
"""

from __future__ import annotations

import threading
from itertools import islice
from typing import Hashable, Iterable


class SeriesCache:
    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError("series cache size must be at least 1")
        self.max_entries = max_entries
        self._ids: dict[Hashable, int] = {}
        self.epoch: int | None = None  # series epoch of the entries; None until first read
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def lookup(self, keys: Iterable[Hashable]) -> list[int | None]:
        get = self._ids.get
        return [get(key) for key in keys]

    def store(self, entries: dict[Hashable, int], epoch: int | None = None) -> None:
        """Add entries (resolved under ``epoch``: dropped if the cache has moved on since)."""
        with self._lock:
            if epoch is not None and epoch != self.epoch:
                return
            self._store(entries)

    def adopt_epoch(self, epoch: int) -> int:
        """The cache's epoch, set to ``epoch`` if it had none."""
        with self._lock:
            if self.epoch is None:
                self.epoch = epoch
            return self.epoch

    def invalidate(self, epoch: int | None) -> None:
        """Start over after a write under ``epoch`` was refused (once, however many threads saw it)."""
        with self._lock:
            if self.epoch == epoch:
                self._ids.clear()
                self.epoch = None

    def _store(self, entries: dict[Hashable, int]) -> None:
        overflow = len(self._ids) + len(entries) - self.max_entries
        if overflow > 0:
            # drop the oldest tenth at once, so eviction is rare rather than per insert
            drop = max(overflow, self.max_entries // 10)
            for key in list(islice(iter(self._ids), drop)):
                self._ids.pop(key, None)
        self._ids.update(entries)

    def clear(self) -> None:
        self._ids.clear()
