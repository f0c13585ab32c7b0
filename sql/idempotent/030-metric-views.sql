-- Per-metric views for analysts: prom_series.<metric> and prom_metric.<metric>.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migrations
-- 0002-schemas.sql, 0003-catalog.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA prom_metric TO prom_reader, prom_tenant_reader;
GRANT USAGE ON SCHEMA prom_series TO prom_reader, prom_tenant_reader;
GRANT SELECT ON TABLE _prom_catalog.metric TO prom_reader;

-- Identifier for a name, kept within PostgreSQL's 63 bytes by a digest suffix.
-- The longest prefix of a text that fits in max_bytes of UTF-8, cut between characters (a cast
-- to name cuts bytes, and could split a character or, worse, the digest after the prefix).
CREATE OR REPLACE FUNCTION _prom_catalog.byte_prefix(s text, max_bytes int)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN octet_length(s) <= max_bytes THEN s
                ELSE (SELECT left(s, n) FROM generate_series(max_bytes, 0, -1) AS n
                      WHERE octet_length(left(s, n)) <= max_bytes LIMIT 1) END
$$;
COMMENT ON FUNCTION _prom_catalog.byte_prefix(text, int) IS 'The longest prefix of a text within a UTF-8 byte length';
GRANT EXECUTE ON FUNCTION _prom_catalog.byte_prefix(text, int) TO prom_reader;

-- A SQL identifier (at most 63 bytes) for a metric or label name. Attempt 0: the name itself when
-- it fits, else a prefix plus a digest of the name. Two names can still want one identifier (a
-- 63-byte name equal to a long name's prefix-plus-digest; `time` and `time_label` as columns), so
-- whoever finds its identifier taken tries attempts 1, 2, … : a prefix plus a digest salted with
-- the attempt.
CREATE OR REPLACE FUNCTION _prom_catalog.identifier_for(name text, attempt int)
RETURNS name
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN attempt = 0 AND octet_length(name) <= 63 THEN name::name
                ELSE (_prom_catalog.byte_prefix(name, 50) || '_'
                      || substr(md5(CASE WHEN attempt = 0 THEN name ELSE attempt || ':' || name END), 1, 12))::name END
$$;
COMMENT ON FUNCTION _prom_catalog.identifier_for(text, int) IS
    'A SQL identifier for a metric or label name: the name itself, or a prefix plus digest when too long or taken (attempt > 0)';
GRANT EXECUTE ON FUNCTION _prom_catalog.identifier_for(text, int) TO prom_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.identifier_for(name text)
RETURNS name
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.identifier_for(name, 0)
$$;
COMMENT ON FUNCTION _prom_catalog.identifier_for(text) IS
    'A SQL identifier for a metric or label name: the name itself, or a prefix plus digest when too long';
GRANT EXECUTE ON FUNCTION _prom_catalog.identifier_for(text) TO prom_reader;

-- View column for a label key; keys that clash with the fixed columns get a suffix.
CREATE OR REPLACE FUNCTION _prom_catalog.column_name_for(label_key text, attempt int)
RETURNS name
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.identifier_for(
        CASE WHEN label_key IN ('time', 'value', 'series_id', 'labels', 'label_ids')
             THEN label_key || '_label' ELSE label_key END, attempt)
$$;
COMMENT ON FUNCTION _prom_catalog.column_name_for(text, int) IS
    'Column name for a label key in the per-metric views (attempt > 0: when the first is taken, see identifier_for)';
GRANT EXECUTE ON FUNCTION _prom_catalog.column_name_for(text, int) TO prom_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.column_name_for(label_key text)
RETURNS name
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.column_name_for(label_key, 0)
$$;
COMMENT ON FUNCTION _prom_catalog.column_name_for(text) IS 'Column name used for a label key in the per-metric views';
GRANT EXECUTE ON FUNCTION _prom_catalog.column_name_for(text) TO prom_reader;

-- How many label keys of a metric become columns of its views: the first ones, by position. A
-- view has at most 1,600 columns, and some metrics (kube_pod_labels) have a key per pod label:
-- past this many their keys are in the views' labels column only, and ingest goes on.
CREATE OR REPLACE FUNCTION _prom_catalog.metric_view_max_label_columns()
RETURNS int
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1500 $$;
COMMENT ON FUNCTION _prom_catalog.metric_view_max_label_columns() IS
    'Label keys of a metric that get columns in its views (the first by position; the rest only in labels)';

-- The label keys of one metric that are columns of its views, in position order.
CREATE OR REPLACE FUNCTION _prom_catalog.metric_view_keys(metric_id int)
RETURNS TABLE (pos int, column_name name)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.pos, p.column_name
    FROM _prom_catalog.label_key_position p
    WHERE p.metric_id = metric_view_keys.metric_id AND p.key <> '__name__'
    ORDER BY p.pos
    LIMIT _prom_catalog.metric_view_max_label_columns()
$$;
COMMENT ON FUNCTION _prom_catalog.metric_view_keys(int) IS 'Label keys of a metric that are columns of its views';

-- SELECT list of the label columns of one metric, in position order.
CREATE OR REPLACE FUNCTION _prom_catalog.metric_label_columns(metric_id int, series_alias text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(string_agg(
        format(', (SELECT l.value FROM _prom_catalog.label l WHERE l.id = %s.labels[%s]) AS %I',
               series_alias, k.pos, k.column_name),
        '' ORDER BY k.pos), '')
    FROM _prom_catalog.metric_view_keys(metric_label_columns.metric_id) k
$$;
COMMENT ON FUNCTION _prom_catalog.metric_label_columns(int, text) IS 'Label columns of a metric''s views, as SQL';

-- The jsonb label set of the series aliased series_alias, as SQL (a column of every per-metric view).
CREATE OR REPLACE FUNCTION _prom_catalog.series_labels_sql(series_alias text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('(SELECT jsonb_object_agg(l.key, l.value) FROM _prom_catalog.label l WHERE l.id = ANY (%1$s.labels))',
                  series_alias)
$$;
COMMENT ON FUNCTION _prom_catalog.series_labels_sql(text) IS 'The jsonb label set of a series, as SQL for the views';

-- The condition that selects the live series of one metric that the querying transaction may see
-- (multitenancy: the visibility filter is evaluated once per query, as two scalar subqueries, and
-- tested on each series the other conditions select; sql/idempotent/012-tenancy.sql), as SQL.
CREATE OR REPLACE FUNCTION _prom_catalog.visible_series_sql(metric_id int, series_alias text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%1$s.metric_id = %2$s AND %1$s.delete_epoch IS NULL
          AND _prom_catalog.labels_visible(%1$s.labels,
                  (SELECT f.must_have FROM _prom_catalog.visible_label_filter() f),
                  (SELECT f.must_not_have FROM _prom_catalog.visible_label_filter() f))', series_alias, metric_id)
$$;
COMMENT ON FUNCTION _prom_catalog.visible_series_sql(int, text) IS
    'SQL condition selecting the live series of a metric visible to the querying transaction';

-- (Re)create both views of a metric. Columns are only ever appended (new label keys),
-- so CREATE OR REPLACE keeps views that users built on top of them valid. Each view selects the
-- series the querying transaction may see (visible_series_sql) and is a security barrier: a condition
-- of the caller's that is not leakproof (a function of its own, a cast or a division that can fail)
-- is evaluated only on rows that passed that filter, so it cannot reveal another tenant's values.
-- Leakproof conditions (comparisons of time, series_id and label columns with values of their own
-- type, the `?` label matchers) still reach the scans and indexes. prom_metric and the rollup views
-- join the catalog's series table themselves: a join with the prom_series view, a barrier, could
-- not be driven by the series they read.
CREATE OR REPLACE FUNCTION _prom_catalog.create_metric_views(metric_id int)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m _prom_catalog.metric;
    columns text;
BEGIN
    SELECT * INTO m FROM _prom_catalog.metric WHERE id = metric_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no metric with id %', metric_id USING ERRCODE = 'undefined_object';
    END IF;
    columns := _prom_catalog.metric_label_columns(m.id, 's');
    EXECUTE format($view$
        CREATE OR REPLACE VIEW prom_series.%I WITH (security_barrier) AS
        SELECT s.id AS series_id, %s AS labels, s.labels AS label_ids %s
        FROM _prom_catalog.series s
        WHERE %s
        $view$, m.view_name, _prom_catalog.series_labels_sql('s'), columns, _prom_catalog.visible_series_sql(m.id, 's'));
    EXECUTE format('COMMENT ON VIEW prom_series.%I IS %L', m.view_name,
                   format('Series of metric %s, one column per label key', m.metric_name));
    EXECUTE format($view$
        CREATE OR REPLACE VIEW prom_metric.%I WITH (security_barrier) AS
        SELECT d.time, d.value, d.series_id, %s AS labels, s.labels AS label_ids %s
        FROM (%s) d
        JOIN _prom_catalog.series s ON s.id = d.series_id
        WHERE %s
        $view$, m.view_name, _prom_catalog.series_labels_sql('s'), columns, _prom_catalog.metric_samples_sql(m.id),
        _prom_catalog.visible_series_sql(m.id, 's'));
    EXECUTE format('COMMENT ON VIEW prom_metric.%I IS %L', m.view_name,
                   format('Samples of metric %s with their labels, one column per label key', m.metric_name));
    EXECUTE format('GRANT SELECT ON prom_series.%I, prom_metric.%I TO prom_reader, prom_tenant_reader',
                   m.view_name, m.view_name);
    PERFORM _prom_catalog.create_rollup_views(m.id);  -- 326-rollups.sql
    UPDATE _prom_catalog.metric SET views_stale = false WHERE id = m.id AND views_stale;
END
$$;
COMMENT ON FUNCTION _prom_catalog.create_metric_views(int) IS 'Creates or extends prom_series.<metric> and prom_metric.<metric>';

-- The samples of one metric, head and compressed, deduplicated on (series_id, time), as a subquery.
-- Written into the view itself (not called as a function) so that the planner pushes
-- time and series_id predicates down into the scan. A time filter reaches the compressed branch as
-- a filter on timestamptz_from_us(x.t) over unnest(decode_times(cs.times), ...): the planner
-- library (src/compressed_time_bounds.c) recognises that shape and bounds the compressed rows
-- and partitions read; keep it (tests/sql/test_view_time_bounds.py fails otherwise).
CREATE OR REPLACE FUNCTION _prom_catalog.metric_samples_sql(metric_id int)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format($q$
        SELECT DISTINCT ON (h.series_id, h.time) h.series_id, h.time, h.value
        FROM (
            SELECT hs.series_id, hs.time, hs.value
            FROM prom_data.sample hs
            WHERE hs.series_id IN (SELECT ms.id FROM _prom_catalog.series ms WHERE ms.metric_id = %1$s)
            UNION ALL
            SELECT cs.series_id, _prom_catalog.timestamptz_from_us(x.t), _prom_catalog.float8_from_bits(x.b)
            FROM prom_data.compressed_sample cs
            CROSS JOIN LATERAL unnest(_prom_catalog.decode_times(cs.times), _prom_catalog.decode_value_bits(cs.vals)) AS x(t, b)
            WHERE cs.series_id IN (SELECT ms.id FROM _prom_catalog.series ms WHERE ms.metric_id = %1$s)
        ) h
        ORDER BY h.series_id, h.time, h.value
    $q$, metric_id)
$$;
COMMENT ON FUNCTION _prom_catalog.metric_samples_sql(int) IS
    'SQL of the deduplicated samples of a metric, used in the body of prom_metric views';

-- Extend the views of a metric without waiting behind long readers: if a view is
-- locked, mark it stale and let maintenance (or refresh_metric_views) finish it.
CREATE OR REPLACE FUNCTION _prom_catalog.try_create_metric_views(metric_id int)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '500ms'
AS $$
BEGIN
    BEGIN
        PERFORM _prom_catalog.create_metric_views(metric_id);
        RETURN true;
    EXCEPTION WHEN lock_not_available THEN
        UPDATE _prom_catalog.metric SET views_stale = true WHERE id = metric_id;
        RETURN false;
    END;
END
$$;
COMMENT ON FUNCTION _prom_catalog.try_create_metric_views(int) IS
    'Creates or extends a metric''s views unless they are locked; then marks them stale';

-- Recreate the views of every metric whose views are stale (or of all metrics).
CREATE OR REPLACE FUNCTION prom_api.refresh_metric_views(all_metrics boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    n int := 0;
BEGIN
    FOR m IN SELECT id FROM _prom_catalog.metric WHERE views_stale OR all_metrics ORDER BY id LOOP
        PERFORM _prom_catalog.create_metric_views(m.id);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION prom_api.refresh_metric_views(boolean) IS
    'Recreates the prom_metric/prom_series views that lag behind their label keys (or all of them); returns how many';
GRANT EXECUTE ON FUNCTION prom_api.refresh_metric_views(boolean) TO prom_maintenance, prom_admin;
