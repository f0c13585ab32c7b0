"""Rollups: per-window aggregates of every series at 5 minutes and 1 hour (docs/rollups.md).

``windows`` computes the aggregates from raw samples (pure NumPy, unit-testable),
``rows`` encodes them into ``prom_data.rollup`` rows and merges new windows into stored
rows, ``compute`` is the maintenance step, ``read`` turns stored rollups back into the
pseudo-samples the PromQL engine evaluates.
"""

RESOLUTIONS_S = (300, 3600)
# one stored row holds this many seconds of windows per resolution
PERIOD_S = {300: 86400, 3600: 30 * 86400}
