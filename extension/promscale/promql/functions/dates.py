"""The evaluation time and sample times: time, timestamp, and the calendar functions (year,
month, day_of_month, day_of_year, day_of_week, hour, minute, days_in_month) of a Unix time in
UTC. All depend on the evaluation time, so none is step-invariant (at_modifier_unsafe)."""

from __future__ import annotations

import numpy as np

from ..ast import SCALAR, VECTOR, VectorSelector, unwrap_parens
from ..values import Scalar, Vector, drop_name, merge_rows
from .registry import function


# --- time: the evaluation time, in seconds since the epoch
@function("time", [], SCALAR, at_modifier_unsafe=True)
def time(ev, call, ts):
    return Scalar(ts / 1000.0)


# --- timestamp: the time of each sample of a selector (the evaluation time for any other
# expression), in seconds since the epoch
@function("timestamp", [VECTOR], at_modifier_unsafe=True)
def timestamp(ev, call, ts):
    arg = unwrap_parens(call.args[0])
    if isinstance(arg, VectorSelector) and arg.timestamp is not None and arg.original_offset:
        # Prometheus 2.42 resets the selector's offset to "step - @ time" at every step, so
        # timestamp(x @ t offset o) reads at t, ignoring o
        arg = VectorSelector(arg.name, arg.matchers, 0, arg.timestamp, None)
        v = ev.eval(arg, ts)
    else:
        v = ev.eval(call.args[0], ts)
    if isinstance(arg, VectorSelector) and v.times is not None:
        vals = v.times / 1000.0
    else:
        vals = np.broadcast_to(ts / 1000.0, v.vals.shape)
    return merge_rows([drop_name(l) for l in v.labels], np.array(vals, dtype=float), v.mask)


def calendar(field):
    """An implementation computing ``field(unix seconds)`` of its optional instant-vector
    argument's values, or of the evaluation time without an argument."""

    def implementation(ev, call, ts):
        if call.args:
            v = ev.eval(call.args[0], ts)
        else:
            v = Vector([()], (ts / 1000.0)[None, :], np.ones((1, len(ts)), dtype=bool))
        return merge_rows([drop_name(l) for l in v.labels], field(v.vals), v.mask)

    return implementation


def _datetimes(vals):
    """Unix seconds as datetime64[s]; NaN and infinities read as 0."""
    secs = np.where(np.isfinite(vals), vals, 0).astype(np.int64)
    return secs.astype("datetime64[s]")


def _year(v):
    return (_datetimes(v).astype("datetime64[Y]").astype(np.int64) + 1970).astype(float)


def _month(v):
    return (_datetimes(v).astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(float)


def _day_of_month(v):
    d = _datetimes(v)
    return ((d.astype("datetime64[D]") - d.astype("datetime64[M]")).astype(np.int64) + 1).astype(float)


def _day_of_year(v):
    d = _datetimes(v)
    return ((d.astype("datetime64[D]") - d.astype("datetime64[Y]")).astype(np.int64) + 1).astype(float)


def _day_of_week(v):
    days = _datetimes(v).astype("datetime64[D]").astype(np.int64)
    return ((days + 4) % 7).astype(float)  # 1970-01-01 was a Thursday (4)


def _hour(v):
    d = _datetimes(v)
    return ((d - d.astype("datetime64[D]")).astype(np.int64) // 3600).astype(float)


def _minute(v):
    d = _datetimes(v)
    return ((d - d.astype("datetime64[D]")).astype(np.int64) // 60 % 60).astype(float)


def _days_in_month(v):
    m = _datetimes(v).astype("datetime64[M]")
    return ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64).astype(float)


# --- year: the year of each value (or of the evaluation time)
function("year", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_year))
# --- month: the month, 1 to 12
function("month", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_month))
# --- day_of_month: the day of the month, 1 to 31
function("day_of_month", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_day_of_month))
# --- day_of_year: the day of the year, 1 to 366
function("day_of_year", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_day_of_year))
# --- day_of_week: the day of the week, 0 (Sunday) to 6
function("day_of_week", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_day_of_week))
# --- hour: the hour of the day, 0 to 23
function("hour", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_hour))
# --- minute: the minute of the hour, 0 to 59
function("minute", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_minute))
# --- days_in_month: the number of days in the month, 28 to 31
function("days_in_month", [VECTOR], variadic=1, at_modifier_unsafe=True)(calendar(_days_in_month))
