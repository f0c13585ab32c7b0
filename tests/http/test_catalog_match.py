"""series, labels and label values with match[] over series whose label sets differ within a
metric (keys absent in the middle of the positional labels array, arrays of different lengths,
keys added to a metric later): the answers are those computed from the label sets themselves."""

from __future__ import annotations

import itertools
import random

import pytest

from support.http_api import push

T0 = 1_700_000_000_000
KEYS = ["a", "b", "c", "d"]


def label_sets() -> list[dict[str, str]]:
    rnd = random.Random(7)
    out = []
    for metric in ("m1", "m2"):
        for i in range(60):
            present = [k for k in KEYS if rnd.random() < 0.6]
            out.append({"__name__": metric, "i": str(i), **{k: rnd.choice("xyz") for k in present}})
    return out


SETS = label_sets()


@pytest.fixture(scope="module", autouse=True)
def data(api):
    # in waves, so that metrics gain keys after their first series (positions added later)
    for wave in range(len(KEYS) + 1):
        batch = [s for s in SETS if len([k for k in KEYS if k in s]) == wave]
        push(api, [(labels, [(T0, 1.0)]) for labels in batch])


def matching(selector: dict[str, str]) -> list[dict[str, str]]:
    return [s for s in SETS if all(s.get(k, "") == v for k, v in selector.items())]


SELECTORS = [{"__name__": "m1"}, {"__name__": "m2", "a": "x"}, {"b": "y"}, {"__name__": "m1", "d": "z", "c": "x"},
             {"c": "y", "a": ""}]


def promql(selector: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in selector.items()) + "}"


@pytest.mark.parametrize("selector", SELECTORS, ids=promql)
def test_label_names_with_match(api, selector):
    expected = sorted({k for s in matching(selector) for k in s})
    assert api.get("/api/v1/labels", query_string={"match[]": promql(selector)}).get_json()["data"] == expected


@pytest.mark.parametrize("selector, key", list(itertools.product(SELECTORS, KEYS + ["__name__"])), ids=str)
def test_label_values_with_match(api, selector, key):
    expected = sorted({s[key] for s in matching(selector) if key in s})
    got = api.get(f"/api/v1/label/{key}/values", query_string={"match[]": promql(selector)}).get_json()["data"]
    assert got == expected


@pytest.mark.parametrize("selector", SELECTORS, ids=promql)
def test_series_with_match(api, selector):
    expected = sorted((dict(sorted(s.items())) for s in matching(selector)), key=lambda s: sorted(s.items()))
    assert api.get("/api/v1/series", query_string={"match[]": promql(selector)}).get_json()["data"] == expected


def test_several_match_sets_are_a_union(api):
    selectors = [SELECTORS[1], SELECTORS[2]]
    union = {tuple(sorted(s.items())) for sel in selectors for s in matching(sel)}
    got = api.get("/api/v1/labels", query_string={"match[]": [promql(s) for s in selectors]}).get_json()["data"]
    assert got == sorted({k for s in union for k, _ in s})
