-- Activity bounds: when series, labels and label keys had samples, coarsely, so that the
-- HTTP API's series, label-names and label-values lookups with a time range read the
-- catalog's indexes instead of samples (sql/idempotent/045-activity.sql maintains them).
--
-- For each row, [first_seen, last_seen] contains the time of every sample written for it
-- (for a label: of every series carrying it; for a metric's key or label: of every series of the
-- metric having it; for a key: of every label with that key), widened
-- by at most a bounded slack so that it moves rarely. NULL: nothing written yet (or, for a
-- label or key, nothing left after garbage collection).

ALTER TABLE _prom_catalog.series
    ADD COLUMN first_seen timestamptz,
    ADD COLUMN last_seen timestamptz;
-- Half of each page kept free, so that moving a bound is a HOT update: the bounds are never
-- indexed, and a non-HOT update would add every label of the series to the GIN index again.
-- A new series is marked by its first write, right after the series around it were created:
-- measured on 2,000 new series, that first mark took 35-70 ms with 20% free (a quarter of the
-- updates HOT, and the GIN pending list flushed sooner for everyone) and 11-12 ms with half free.
-- The price is a table about 1.6 times larger (~110 bytes more per series).
ALTER TABLE _prom_catalog.series SET (fillfactor = 50);

ALTER TABLE _prom_catalog.label
    ADD COLUMN first_seen timestamptz,
    ADD COLUMN last_seen timestamptz;
ALTER TABLE _prom_catalog.label SET (fillfactor = 80);

-- Per metric and label key: /api/v1/labels?match[]=<metric> reads this, O(keys of the metric).
ALTER TABLE _prom_catalog.label_key_position
    ADD COLUMN first_seen timestamptz,
    ADD COLUMN last_seen timestamptz;
ALTER TABLE _prom_catalog.label_key_position SET (fillfactor = 80);

-- Per metric and label: label/<name>/values?match[]=<metric> (Grafana's label_values(metric,
-- name)) reads the (metric, name) range of this, O(values of the name in the metric), where
-- reading the metric's series costs O(series). Created by the first mark of such a pair.
CREATE TABLE _prom_catalog.metric_label (
    metric_id int NOT NULL,
    key text NOT NULL,
    label_id int NOT NULL,
    first_seen timestamptz,
    last_seen timestamptz,
    PRIMARY KEY (metric_id, key, label_id)
) WITH (fillfactor = 80);
COMMENT ON TABLE _prom_catalog.metric_label IS 'Labels of each metric''s series, with the time bounds of their activity';
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.metric_label', '');

-- One row per label key ever marked: /api/v1/labels without match[] reads this, O(keys).
CREATE TABLE _prom_catalog.label_key (
    key text PRIMARY KEY,
    first_seen timestamptz,
    last_seen timestamptz
);
COMMENT ON TABLE _prom_catalog.label_key IS 'Label keys with the time bounds of their labels'' activity';
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.label_key', '');
