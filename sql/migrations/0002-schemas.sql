-- Schema names say who they are for: a leading underscore is internal, prom_ is metrics.
CREATE SCHEMA _prom_catalog;
COMMENT ON SCHEMA _prom_catalog IS 'Internal metric catalog: metrics, interned labels, series, metadata';
CREATE SCHEMA prom_data;
COMMENT ON SCHEMA prom_data IS 'Sample storage: time-partitioned samples and exemplars';
CREATE SCHEMA prom_api;
COMMENT ON SCHEMA prom_api IS 'Public functions and operators of Promscale';
CREATE SCHEMA prom_metric;
COMMENT ON SCHEMA prom_metric IS 'One view per metric: time, value, series_id, labels and one column per label key';
CREATE SCHEMA prom_series;
COMMENT ON SCHEMA prom_series IS 'One view per metric: its series and one column per label key';
CREATE SCHEMA prom_info;
COMMENT ON SCHEMA prom_info IS 'Views describing what is stored';

-- Analysts reach the helpers (jsonb(labels), ==, ?) without qualifying them.
EXECUTE pg_catalog.format(
    'ALTER DATABASE %I SET search_path = "$user", public, prom_api, prom_metric',
    pg_catalog.current_database());
