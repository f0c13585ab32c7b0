-- Rollups (docs/rollups.md): 5-minute and 1-hour aggregates of every series, computed by
-- maintenance from final (compacted) samples, kept with their own retention, read by PromQL
-- (max_source_resolution) and by SQL through the views prom_rollup_5m.<metric> and
-- prom_rollup_1h.<metric>.

CREATE SCHEMA prom_rollup_5m;
COMMENT ON SCHEMA prom_rollup_5m IS 'One view per metric: its 5-minute rollups (count, sum, min, max, first, last, counter increase per window)';
GRANT USAGE ON SCHEMA prom_rollup_5m TO prom_reader;
CREATE SCHEMA prom_rollup_1h;
COMMENT ON SCHEMA prom_rollup_1h IS 'One view per metric: its 1-hour rollups (count, sum, min, max, first, last, counter increase per window)';
GRANT USAGE ON SCHEMA prom_rollup_1h TO prom_reader;

-- One row per series per resolution per period (a day of 5-minute windows, 30 days of 1-hour
-- windows). Window w covers the samples with end(w) - resolution < time <= end(w) (left-open
-- like a PromQL range), stale markers left out. Each column holds one value per window, encoded
-- with the compressed rows' codecs (extension/promscale/codec): times with the timestamp codec,
-- aggregates with the value codec.
--   times: the window ends; first_times, last_times: the times of the window's first and last sample;
--   counts, sums, mins, maxs: PromQL's count/sum/min/max_over_time of the window;
--   firsts, lasts: the first and last sample values;
--   increases: the counter increase from the first to the last sample, resets adjusted as by
--     PromQL's increase (a drop counts the new value), so rate/increase over windows is exact.
-- mins, maxs and increases are empty when they equal firsts, lasts and lasts - firsts bit for
-- bit (a counter without a reset in the row's windows): readers derive them.
CREATE TABLE prom_data.rollup (
    resolution_s int NOT NULL CHECK (resolution_s IN (300, 3600)),
    series_id bigint NOT NULL,
    chunk_start timestamptz NOT NULL,
    count int NOT NULL,
    times bytea NOT NULL,
    first_times bytea NOT NULL,
    last_times bytea NOT NULL,
    counts bytea NOT NULL,
    sums bytea NOT NULL,
    mins bytea NOT NULL,
    maxs bytea NOT NULL,
    firsts bytea NOT NULL,
    lasts bytea NOT NULL,
    increases bytea NOT NULL,
    PRIMARY KEY (resolution_s, series_id, chunk_start)
);
ALTER TABLE prom_data.rollup ALTER COLUMN times SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN first_times SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN last_times SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN counts SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN sums SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN mins SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN maxs SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN firsts SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN lasts SET STORAGE EXTERNAL;
ALTER TABLE prom_data.rollup ALTER COLUMN increases SET STORAGE EXTERNAL;
-- retention deletes by period start
CREATE INDEX rollup_chunk_start ON prom_data.rollup (resolution_s, chunk_start);
COMMENT ON TABLE prom_data.rollup IS
    'Rollups: one row per series per resolution (300 or 3600 s) per period, arrays of per-window aggregates; read them through the prom_rollup_5m/prom_rollup_1h views';
GRANT SELECT ON TABLE prom_data.rollup TO prom_reader;

-- How far rollups are computed: every window ending at or before done_until is written. A run
-- in progress works on (done_until, slice_end] from series id next_series on. raw_dropped_until:
-- retention dropped every raw sample before it (PromQL then answers from rollups).
CREATE TABLE _prom_catalog.rollup_progress (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    done_until timestamptz,
    slice_end timestamptz,
    next_series bigint,
    raw_dropped_until timestamptz
);
COMMENT ON TABLE _prom_catalog.rollup_progress IS 'How far maintenance has computed rollups (prom_data.rollup)';
GRANT SELECT ON TABLE _prom_catalog.rollup_progress TO prom_reader;

-- Per-metric retention of rollups; the defaults are the settings rollup_5m_retention_period and
-- rollup_1h_retention_period.
CREATE TABLE _prom_catalog.rollup_retention (
    metric_id int NOT NULL,
    resolution_s int NOT NULL CHECK (resolution_s IN (300, 3600)),
    retention_period interval NOT NULL,
    PRIMARY KEY (metric_id, resolution_s)
);
COMMENT ON TABLE _prom_catalog.rollup_retention IS 'Rollup retention periods of metrics that do not use the defaults';
GRANT SELECT ON TABLE _prom_catalog.rollup_retention TO prom_reader;

PERFORM pg_catalog.pg_extension_config_dump('prom_data.rollup', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.rollup_progress', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.rollup_retention', '');
UPDATE _prom_catalog.metric SET views_stale = true;  -- maintenance adds the rollup views of existing metrics
