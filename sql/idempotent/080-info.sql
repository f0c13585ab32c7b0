-- prom_info: what is stored, for analysts and operators.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migrations
-- 0002-schemas.sql, 0003-catalog.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA prom_info TO prom_reader;
GRANT SELECT ON TABLE _prom_catalog.metadata TO prom_reader;

CREATE OR REPLACE VIEW prom_info.metric AS
SELECT m.id,
       m.metric_name,
       m.view_name,
       (SELECT array_agg(p.key ORDER BY p.pos) FROM _prom_catalog.label_key_position p WHERE p.metric_id = m.id) AS label_keys,
       (SELECT count(*) FROM _prom_catalog.series s WHERE s.metric_id = m.id AND s.delete_epoch IS NULL) AS series_count,
       md.type AS metric_type,
       md.unit,
       md.help,
       m.created_at
FROM _prom_catalog.metric m
LEFT JOIN LATERAL (
    SELECT d.type, d.unit, d.help FROM _prom_catalog.metadata d
    WHERE d.metric_family = m.metric_name
       OR (m.metric_name LIKE d.metric_family || '\_%' AND d.type IN ('counter', 'histogram', 'summary', 'gaugehistogram'))
    ORDER BY d.metric_family = m.metric_name DESC, d.last_seen DESC
    LIMIT 1) md ON true;
COMMENT ON VIEW prom_info.metric IS 'Every metric: its views, label keys, number of series and metadata';
GRANT SELECT ON TABLE prom_info.metric TO prom_reader;

CREATE OR REPLACE VIEW prom_info.label AS
SELECT l.key,
       _prom_catalog.column_name_for(l.key) AS column_name,
       array_agg(l.value ORDER BY l.value) AS "values",
       count(*) AS num_values
FROM _prom_catalog.label l
GROUP BY l.key;
COMMENT ON VIEW prom_info.label IS 'Every label key with its known values';
GRANT SELECT ON TABLE prom_info.label TO prom_reader;
