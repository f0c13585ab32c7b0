"""Cutting __replica__ out of a series' raw label bytes (pyconnector/prometheus/ha.py)."""

from __future__ import annotations

import pytest

from pyconnector.prometheus.errors import BadRequest
from pyconnector.prometheus.ha import split_replica
from pyconnector.prometheus.remote_write import canonical_label_set, canonical_labels, decode_request
from support.remote_write import write_request


def key_of(labels: dict[str, str]) -> bytes:
    return decode_request(write_request([(labels, [(1, 1.0)])]).SerializeToString()).keys[0]


def test_replica_is_cut_out_and_cluster_kept():
    key = key_of({"__name__": "up", "__replica__": "prom-a", "cluster": "eu", "job": "node"})
    stripped, ha_id = split_replica(key)
    assert ha_id == ("eu", "prom-a")
    assert canonical_labels(stripped) == canonical_label_set([("__name__", "up"), ("cluster", "eu"), ("job", "node")])
    assert stripped == key_of({"__name__": "up", "cluster": "eu", "job": "node"})


@pytest.mark.parametrize("labels", [
    {"__name__": "up", "job": "node"},
    {"__name__": "up", "cluster": "eu"},
    {"__name__": "up", "cluster": "eu", "__replica__": ""},   # an empty label is no label
])
def test_series_that_are_not_from_a_pair_pass_unchanged(labels):
    key = key_of(labels)
    assert split_replica(key) == (key, None)


def test_long_values_and_labels_after_the_replica():
    labels = {"__name__": "up", "__replica__": "r" * 300, "cluster": "c" * 200, "zone": "z" * 150}
    stripped, ha_id = split_replica(key_of(labels))
    assert ha_id == ("c" * 200, "r" * 300)
    assert stripped == key_of({k: v for k, v in labels.items() if k != "__replica__"})


def test_a_replica_needs_a_cluster():
    with pytest.raises(BadRequest, match="__replica__='prom-a' but no cluster label"):
        split_replica(key_of({"__name__": "up", "__replica__": "prom-a"}))


def test_unreadable_keys_are_left_to_series_resolution():
    assert split_replica(b"\x0a\x05ab") == (b"\x0a\x05ab", None)
    assert split_replica(b"\x12\x00") == (b"\x12\x00", None)
