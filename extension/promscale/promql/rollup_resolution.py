"""Which samples a query reads: raw, or rollups of 5 minutes or 1 hour (docs/rollups.md).

``max_source_resolution`` follows Thanos's query API: ``raw`` (or ``0s``, or absent) reads raw
samples, ``5m`` and ``1h`` read those rollups, ``auto`` the coarsest rollup whose resolution is
at most a fifth of the step (raw when none is). Without the parameter a query reaching before
the time retention removed every raw sample from is answered from rollups too, as ``auto``
with 5 minutes at least. Whenever rollups answer, the response carries a warning naming them.
"""

from __future__ import annotations

import datetime as _dt

RESOLUTIONS = {"5m": 300, "1h": 3600}
_NAMES = {300: "5m", 3600: "1h"}
_ALIASES = {"raw": 0, "0": 0, "0s": 0, "5m": 300, "300": 300, "300s": 300, "1h": 3600, "60m": 3600,
            "3600": 3600, "3600s": 3600, "auto": -1}
AUTO = -1


class InvalidResolution(ValueError):
    pass


def parse(value: str | None) -> int | None:
    """None (absent), 0 (raw), 300, 3600 or AUTO."""
    if value is None or value == "":
        return None
    got = _ALIASES.get(value.strip().lower())
    if got is None:
        raise InvalidResolution(f'invalid parameter "max_source_resolution": {value!r} is not one of '
                                f"raw, 5m, 1h or auto")
    return got


def auto(step_ms: int) -> int:
    """The coarsest resolution at most a fifth of the step; 0 (raw) when none is."""
    for resolution_s in (3600, 300):
        if resolution_s * 1000 * 5 <= step_ms:
            return resolution_s
    return 0


def _utc(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def choose(requested: int | None, step_ms: int, first_ms: int, end_ms: int, bounds: dict) -> tuple[int, str | None]:
    """(resolution in seconds, 0 for raw samples; the warning to return, if any)."""
    reason = "max_source_resolution"
    if requested is None:
        dropped = bounds.get("raw_dropped_until")
        if dropped is None or first_ms >= dropped:
            return 0, None
        requested = auto(step_ms) or 300
        reason = f"raw samples before {_utc(dropped)} are past retention"
    elif requested == AUTO:
        requested = auto(step_ms)
        reason = "max_source_resolution=auto"
    if requested == 0:
        return 0, None
    warning = (f"answered from {_NAMES[requested]} rollups ({reason}): rate, increase, delta and *_over_time "
               f"are exact at steps and ranges that are multiples of {_NAMES[requested]}, other functions "
               f"approximate (docs/rollups.md)")
    done = bounds.get("done_until")
    if done is None or end_ms > done:
        warning += (f"; rollups end at {_utc(done)}, later samples are not included" if done is not None
                    else "; no rollups are computed yet")
    return requested, warning
