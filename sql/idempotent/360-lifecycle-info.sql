-- prom_info views of the lifecycle: what maintenance has pending and has done, retention
-- in force per metric, and how much space samples take.

CREATE OR REPLACE VIEW prom_info.maintenance AS
WITH pending AS (
    SELECT w.kind AS task, count(*) AS n FROM _prom_catalog.retention_work() w GROUP BY w.kind
    UNION ALL
    SELECT 'flush', coalesce(sum(cardinality(f.chunk_ids)), 0) FROM _prom_catalog.chunks_to_flush() f
    UNION ALL
    SELECT 'drop_flushed', count(*) FROM _prom_catalog.sample_chunk_state s WHERE s.flush_xid IS NOT NULL AND NOT s.late_rows
    UNION ALL
    SELECT 'compact', count(*) FROM _prom_catalog.partitions_to_compact()
    UNION ALL
    SELECT 'drop_compacted', count(*) FROM _prom_catalog.compressed_partition p WHERE p.compacted_xid IS NOT NULL
    UNION ALL
    SELECT 'refresh_views', count(*) FROM _prom_catalog.metric m WHERE m.views_stale
    UNION ALL
    SELECT 'drop_trace_chunks', count(*) FROM _ps_trace.chunk c WHERE c.end_time <= now() - coalesce(_ps_catalog.get_setting('trace_retention_period'), '30 days')::interval
    UNION ALL
    SELECT 'delete_series', count(*) FROM _prom_catalog.series s WHERE s.delete_epoch IS NOT NULL
    UNION ALL
    -- hours of final samples not rolled up yet (326-rollups.sql)
    SELECT 'rollup', (extract(epoch FROM greatest(_prom_catalog.rollup_horizon() - r.done_until, interval '0')) / 3600)::bigint
    FROM _prom_catalog.rollup_progress r)
SELECT t.task, t.description, coalesce(p.n, 0) AS pending, coalesce(s.done, 0) AS done, s.last_done_at, s.last_item
FROM (VALUES
    ('refresh_views', 'per-metric views behind their label keys'),
    ('drop_head', 'head partitions past every retention period'),
    ('drop_compressed', 'compressed partitions past every retention period'),
    ('purge_head', 'head partitions holding metrics past their retention period'),
    ('purge_compressed', 'compressed partitions holding metrics past their retention period'),
    ('purge_exemplars', 'exemplars past their retention period (checked once an hour)'),
    ('drop_trace_chunks', 'trace partitions past the trace retention period'),
    ('flush', 'head partitions to flush into per-series rows (closed, or with late samples)'),
    ('drop_flushed', 'flushed head partitions to drop'),
    ('compact', 'flushed partitions of closed buckets to compact'),
    ('drop_compacted', 'compacted flushed partitions to drop'),
    ('delete_series', 'series without samples, marked for deletion'),
    ('rollup', 'hours of compacted samples to roll up into 5-minute and 1-hour rollups'),
    ('rollup_retention', 'rollup rows past their rollup retention period (checked once an hour)')) AS t(task, description)
LEFT JOIN pending p ON p.task = t.task
LEFT JOIN _prom_catalog.maintenance_stat s ON s.task = t.task;
COMMENT ON VIEW prom_info.maintenance IS 'Maintenance tasks: how many items are pending, how many were done, the last one';
GRANT SELECT ON TABLE prom_info.maintenance TO prom_reader;

CREATE OR REPLACE VIEW prom_info.retention AS
SELECT m.metric_name,
       coalesce(r.retention_period, prom_api.get_default_retention_period()) AS retention_period,
       r.metric_id IS NULL AS is_default
FROM _prom_catalog.metric m
LEFT JOIN _prom_catalog.metric_retention r ON r.metric_id = m.id;
COMMENT ON VIEW prom_info.retention IS 'Retention period in force for every metric';
GRANT SELECT ON TABLE prom_info.retention TO prom_reader;

-- Samples and bytes in the head, in flushed (level 1) and in compacted (level 2) rows.
CREATE OR REPLACE FUNCTION _prom_catalog.storage_summary()
RETURNS TABLE (tier text, partitions bigint, samples bigint, total_bytes bigint)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT 'head'::text, count(*), coalesce(sum(c.n), 0)::bigint,
           coalesce(sum(pg_total_relation_size(format('prom_data.%I', c.table_name)::regclass)), 0)::bigint
    FROM (SELECT sc.table_name, _prom_catalog.count_rows(sc.table_name) AS n FROM _prom_catalog.sample_chunk sc) c;
    RETURN QUERY
    SELECT CASE l.level WHEN 1 THEN 'flushed' ELSE 'compressed' END,
           (SELECT count(*) FROM _prom_catalog.compressed_partition p WHERE p.level = l.level),
           (SELECT coalesce(sum(cs.count), 0)::bigint FROM prom_data.compressed_sample cs WHERE cs.level = l.level),
           (SELECT coalesce(sum(pg_total_relation_size(format('prom_data.%I', p.table_name)::regclass)), 0)::bigint
            FROM _prom_catalog.compressed_partition p WHERE p.level = l.level)
    FROM (VALUES (1::smallint), (2::smallint)) AS l(level);
END
$$;
COMMENT ON FUNCTION _prom_catalog.storage_summary() IS
    'Partitions, samples and bytes on disk of the head, flushed (level 1) and compressed (level 2) rows';
GRANT EXECUTE ON FUNCTION _prom_catalog.storage_summary() TO prom_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.count_rows(table_name name)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM prom_data.%I', table_name) INTO n;
    RETURN n;
END
$$;
COMMENT ON FUNCTION _prom_catalog.count_rows(name) IS 'Row count of a table in prom_data';
GRANT EXECUTE ON FUNCTION _prom_catalog.count_rows(name) TO prom_reader;

CREATE OR REPLACE VIEW prom_info.storage AS
SELECT s.tier, s.partitions, s.samples, s.total_bytes,
       round(s.total_bytes::numeric / nullif(s.samples, 0), 3) AS bytes_per_sample
FROM _prom_catalog.storage_summary() s;
COMMENT ON VIEW prom_info.storage IS
    'Samples and bytes on disk per tier: head, flushed, compressed (head rows are counted, so this view reads all of the head; until flushed partitions are dropped, their samples count in two tiers)';
GRANT SELECT ON TABLE prom_info.storage TO prom_reader;

-- Samples and bytes per metric, for the connector's /status page and capacity questions.
-- Compressed bytes are the stored rows' sizes (TOAST-compressed, without indexes); head bytes are
-- the head partitions' size on disk shared out by sample count (head rows of all metrics share pages).
CREATE OR REPLACE VIEW prom_info.metric_storage AS
WITH head AS (
    SELECT s.metric_id, count(*) AS samples
    FROM prom_data.sample h JOIN _prom_catalog.series s ON s.id = h.series_id
    GROUP BY s.metric_id),
head_total AS (
    SELECT nullif((SELECT count(*) FROM prom_data.sample), 0) AS samples,
           (SELECT coalesce(sum(pg_total_relation_size(format('prom_data.%I', c.table_name)::regclass)), 0)
            FROM _prom_catalog.sample_chunk c) AS bytes),
compressed AS (
    SELECT s.metric_id, sum(c.count)::bigint AS samples, sum(pg_column_size(c.*))::bigint AS bytes
    FROM prom_data.compressed_sample c JOIN _prom_catalog.series s ON s.id = c.series_id
    GROUP BY s.metric_id)
SELECT m.metric_name,
       (SELECT count(*) FROM _prom_catalog.series s WHERE s.metric_id = m.id AND s.delete_epoch IS NULL) AS series_count,
       coalesce(h.samples, 0) AS head_samples,
       coalesce(round(h.samples * t.bytes / t.samples), 0)::bigint AS head_bytes,
       coalesce(c.samples, 0) AS compressed_samples,
       coalesce(c.bytes, 0) AS compressed_bytes,
       round((coalesce(h.samples * t.bytes / t.samples, 0) + coalesce(c.bytes, 0))
             / nullif(coalesce(h.samples, 0) + coalesce(c.samples, 0), 0), 3) AS bytes_per_sample
FROM _prom_catalog.metric m
CROSS JOIN head_total t
LEFT JOIN head h ON h.metric_id = m.id
LEFT JOIN compressed c ON c.metric_id = m.id;
COMMENT ON VIEW prom_info.metric_storage IS
    'Samples and bytes per metric in the head (its share of the head partitions by sample count) and in compressed rows (stored row sizes, without indexes); reads every head sample and compressed row';
GRANT SELECT ON TABLE prom_info.metric_storage TO prom_reader;
