"""Series ids by raw label bytes, bounded, per worker process.

Keys are tuples of raw Label messages exactly as the request carried them, so a
cache hit costs no decoding at all. Eviction is first-in-first-out in chunks:
cheap, and a real working set of active series stays resident because Prometheus
sends every active series at every scrape.
"""

from __future__ import annotations

from itertools import islice
from typing import Hashable, Iterable


class SeriesCache:
    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError("series cache size must be at least 1")
        self.max_entries = max_entries
        self._ids: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def lookup(self, keys: Iterable[Hashable]) -> list[int | None]:
        get = self._ids.get
        return [get(key) for key in keys]

    def store(self, entries: dict[Hashable, int]) -> None:
        overflow = len(self._ids) + len(entries) - self.max_entries
        if overflow > 0:
            # drop the oldest tenth at once, so eviction is rare rather than per insert
            drop = max(overflow, self.max_entries // 10)
            for key in list(islice(iter(self._ids), drop)):
                self._ids.pop(key, None)
        self._ids.update(entries)

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Drop these keys (their series were deleted by retention)."""
        for key in keys:
            self._ids.pop(key, None)

    def clear(self) -> None:
        self._ids.clear()
