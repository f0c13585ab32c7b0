"""Prometheus HA pairs (--high-availability): of each cluster, only the leader's samples are stored.

Two Prometheus servers scraping the same targets carry the external labels ``cluster`` (the
same) and ``__replica__`` (their own). The database holds one lease per cluster in *sample
time* (sql/idempotent/065-ha.sql): the leader owns the cluster's samples in
[lease_start, lease_until), past leaders the ranges before. A sample of a replica is stored
only if that replica owns its time; the others are dropped and the request still answers 2xx
(so Prometheus does not resend them). ``__replica__`` is removed before series resolution, so
both replicas write to the same series; ``cluster`` is kept.

The common case costs no round trip: each worker remembers the lease of every cluster, and
asks the database (prom_api.update_ha_lease, a row lock only when the lease changes) only when
the leader's samples reach the lease's refresh time (once per lease refresh of sample time) or
a follower's samples reach the lease's end (the leader has gone quiet: take over). A lease
remembered out of date can only be older: its leader's range only grows while it leads, and a
change of leader starts at the end of the old lease, so what a worker decides from it is what
the database would decide. Samples older than the remembered lease's start (backfill, the first
request after a takeover) are checked against the replica's past leases.

Series without both labels pass through unchanged (``cluster`` alone is an ordinary label);
``__replica__`` without ``cluster`` is refused (400). A request may mix replicas (Prometheus
sends one per request): each series is judged by its own labels.
"""

from __future__ import annotations

import threading
from itertools import islice

import numpy as np
from google.protobuf.message import DecodeError

from ..db import Database, HaLease
from ..tenancy import current_tenant
from .errors import BadRequest
from .proto import prometheus_remote_pb2 as pb
from ..protowire import read_uvarint
from .remote_write import DecodedWrite, Exemplars, SeriesKey

CLUSTER = "cluster"
REPLICA = "__replica__"

# (cluster, replica) of a series, None when it is not from an HA pair
HaId = tuple[str, str] | None


def split_replica(key: SeriesKey) -> tuple[SeriesKey, HaId]:
    """A series key without its ``__replica__`` label field, and its (cluster, replica).
    Keys this cannot read are returned unchanged (series resolution refuses them, with the
    reason)."""
    cluster = replica = ""
    replica_field = None
    i, n = 0, len(key)
    while i < n:
        if key[i] != 0x0A:
            return key, None
        length, at = read_uvarint(key, i + 1)
        end = at + length
        if length < 0 or end > n:
            return key, None
        try:
            label = pb.Label.FromString(key[at:end])
        except DecodeError:
            return key, None
        if label.name == REPLICA:
            replica, replica_field = label.value, (i, end)
        elif label.name == CLUSTER:
            cluster = label.value
        i = end
    if not replica:  # an empty label is no label
        return key, None
    if not cluster:
        raise BadRequest(f"a series has {REPLICA}={replica!r} but no {CLUSTER} label: with --high-availability, "
                         f"Prometheus HA pairs need both external labels")
    assert replica_field is not None
    return key[:replica_field[0]] + key[replica_field[1]:], (cluster, replica)


class HaFilter:
    """Drops the samples of HA replicas that did not lead at their time (per worker process)."""

    def __init__(self, db: Database, max_entries: int):
        self.db = db
        self.max_entries = max(1, max_entries)
        # raw key -> (key without __replica__, (cluster, replica) or None); FIFO like the series cache
        self._keys: dict[SeriesKey, tuple[SeriesKey, HaId]] = {}
        self._leases: dict[str, HaLease] = {}
        self._lock = threading.Lock()

    def apply(self, write: DecodedWrite) -> tuple[DecodedWrite, int]:
        """The part of ``write`` to store, and how many samples were dropped."""
        get = self._keys.get
        entries = [get(key) for key in write.keys]
        if None in entries:
            entries = self._split_new(write.keys, entries)
        ha_ids = {ha_id for _, ha_id in entries}
        if ha_ids == {None}:
            return write, 0
        sample_keys = np.repeat(np.arange(len(entries)), write.sample_counts)
        keep = np.ones(len(write.times_ms), dtype=bool)
        exemplar_keys = np.asarray(write.exemplars.ts_index, dtype=np.int64)
        exemplar_times = np.asarray(write.exemplars.times_ms, dtype=np.int64)
        keep_exemplar = np.ones(len(exemplar_keys), dtype=bool)
        for ha_id in ha_ids - {None}:
            assert ha_id is not None
            if len(ha_ids) == 1:
                in_group = slice(None)
                exemplars_in_group: slice | np.ndarray = slice(None)
            else:
                of_key = np.fromiter((e[1] == ha_id for e in entries), dtype=bool, count=len(entries))
                in_group = of_key[sample_keys]
                exemplars_in_group = of_key[exemplar_keys]
            keep[in_group] = self._owned(*ha_id, write.times_ms[in_group])
            if len(exemplar_keys):
                keep_exemplar[exemplars_in_group] = self._owned(*ha_id, exemplar_times[exemplars_in_group])
        keys = [stripped for stripped, _ in entries]
        dropped = int(len(keep) - np.count_nonzero(keep))
        if not dropped and keep_exemplar.all():
            return _with_keys(write, keys), 0
        return _kept(write, keys, sample_keys, keep, keep_exemplar), dropped

    def _split_new(self, keys: list[SeriesKey], entries: list) -> list[tuple[SeriesKey, HaId]]:
        found = {key: split_replica(key) for key, entry in zip(keys, entries) if entry is None}
        with self._lock:
            overflow = len(self._keys) + len(found) - self.max_entries
            if overflow > 0:  # drop the oldest tenth at once, so eviction is rare
                for key in list(islice(iter(self._keys), max(overflow, self.max_entries // 10))):
                    self._keys.pop(key, None)
            self._keys.update(found)
        return [entry if entry is not None else found[key] for key, entry in zip(keys, entries)]

    def _owned(self, cluster: str, replica: str, times: np.ndarray) -> np.ndarray:
        """Which of ``times`` (ms) ``replica`` owns in ``cluster``'s leases."""
        if not len(times):
            return np.zeros(0, dtype=bool)
        cluster = lease_name(cluster, current_tenant())
        min_ms, max_ms = int(times.min()), int(times.max())
        lease = self._leases.get(cluster)
        if (lease is None
                or (lease.leader == replica and max_ms >= lease.refresh_at_ms)  # extend the lease
                or (lease.leader != replica and max_ms >= lease.until_ms)):     # the leader went quiet
            lease = self.db.update_ha_lease(cluster, replica, min_ms, max_ms)
            self._remember(cluster, lease)
        if lease.leader == replica:
            owned = (times >= lease.start_ms) & (times < lease.until_ms)
        else:
            owned = np.zeros(len(times), dtype=bool)
        if min_ms < lease.start_ms:  # older than the current lease: the replica's past leases decide
            for start_ms, until_ms in self.db.ha_lease_history(cluster, replica):
                owned |= (times >= start_ms) & (times < until_ms)
        return owned

    def _remember(self, cluster: str, lease: HaLease) -> None:
        with self._lock:
            known = self._leases.get(cluster)
            # threads race: keep the newest (leases only move forward in sample time)
            if known is None or (lease.start_ms, lease.until_ms) >= (known.start_ms, known.until_ms):
                self._leases[cluster] = lease

    def leases(self) -> dict[str, HaLease]:
        return dict(self._leases)


def lease_name(cluster: str, tenant: str | None) -> str:
    """The name of a cluster's lease: with --multi-tenancy, a tenant's clusters are its own
    (``tenant/cluster``: two tenants' clusters of the same name do not share a leader)."""
    return f"{tenant}/{cluster}" if tenant else cluster


def _with_keys(write: DecodedWrite, keys: list[SeriesKey]) -> DecodedWrite:
    return DecodedWrite(keys, write.sample_counts, write.times_ms, write.values, write.exemplars,
                        write.metadata, write.histograms_dropped)


def _kept(write: DecodedWrite, keys: list[SeriesKey], sample_keys: np.ndarray, keep: np.ndarray,
          keep_exemplar: np.ndarray) -> DecodedWrite:
    """``write`` with only the kept samples and exemplars, and the series that still have some."""
    counts = np.bincount(sample_keys[keep], minlength=len(keys))
    exemplar_keys = np.asarray(write.exemplars.ts_index, dtype=np.int64)[keep_exemplar]
    has_exemplars = np.bincount(exemplar_keys, minlength=len(keys)) > 0
    kept_keys = np.flatnonzero((counts > 0) | has_exemplars)
    new_index = np.full(len(keys), -1, dtype=np.int64)
    new_index[kept_keys] = np.arange(len(kept_keys))
    exemplars = Exemplars(
        new_index[exemplar_keys].tolist(),
        [t for t, k in zip(write.exemplars.times_ms, keep_exemplar) if k],
        [v for v, k in zip(write.exemplars.values, keep_exemplar) if k],
        [label for label, k in zip(write.exemplars.labels, keep_exemplar) if k],
    )
    return DecodedWrite([keys[i] for i in kept_keys.tolist()], counts[kept_keys].tolist(), write.times_ms[keep],
                        write.values[keep], exemplars, write.metadata, write.histograms_dropped)
