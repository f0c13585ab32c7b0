-- Series garbage collection, safe against connectors that cache series ids.
--
-- 1. Retention hands over the series that lost data; those with no sample left anywhere
--    are *marked* (series.delete_epoch = a new epoch). Marked series vanish from the views,
--    and prom_api.put_samples refuses them with SQLSTATE PS001, so a connector drops its
--    cached ids and resolves the labels again, which un-marks the series.
-- 2. A marked series is deleted only when every transaction that could have written it
--    before the mark was visible has ended, and it still has no samples (else it is
--    un-marked): no sample is ever stored for a deleted series id.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0007-cold-tier.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.gc_epoch TO prom_reader;

-- The candidates that have no sample in the head or in any compressed partition.
CREATE OR REPLACE FUNCTION _prom_catalog.series_without_samples(candidates bigint[])
RETURNS bigint[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    remaining bigint[];
    part record;
BEGIN
    SELECT array(SELECT DISTINCT x FROM unnest(candidates) AS x WHERE x IS NOT NULL
                 EXCEPT SELECT DISTINCT h.series_id FROM prom_data.sample h WHERE h.series_id = ANY (candidates))
    INTO remaining;
    -- newest partitions first: live series drop out of the candidates early
    FOR part IN SELECT p.table_name FROM _prom_catalog.compressed_partition p ORDER BY p.start_time DESC LOOP
        EXIT WHEN cardinality(remaining) = 0;
        EXECUTE format('SELECT array(SELECT x FROM unnest($1) AS x WHERE NOT EXISTS (SELECT 1 FROM prom_data.%I c WHERE c.series_id = x))',
                       part.table_name)
            INTO remaining USING remaining;
    END LOOP;
    RETURN remaining;
END
$$;
COMMENT ON FUNCTION _prom_catalog.series_without_samples(bigint[]) IS 'Those of the given series that have no sample stored';

-- Marks the candidates without samples as deleted in a new epoch; returns how many.
CREATE OR REPLACE FUNCTION _prom_catalog.mark_unused_series(candidates bigint[])
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unused bigint[];
    new_epoch bigint;
    marked bigint;
BEGIN
    IF coalesce(cardinality(candidates), 0) = 0 THEN
        RETURN 0;
    END IF;
    unused := _prom_catalog.series_without_samples(
        array(SELECT s.id FROM _prom_catalog.series s WHERE s.id = ANY (candidates) AND s.delete_epoch IS NULL));
    IF cardinality(unused) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(1886547829);   -- 1886547829: gc epochs
    INSERT INTO _prom_catalog.gc_epoch (epoch)
    SELECT coalesce(max(e.epoch), 0) + 1 FROM _prom_catalog.gc_epoch e
    RETURNING epoch INTO new_epoch;
    UPDATE _prom_catalog.series s SET delete_epoch = new_epoch WHERE s.id = ANY (unused) AND s.delete_epoch IS NULL;
    GET DIAGNOSTICS marked = ROW_COUNT;
    RETURN marked;
END
$$;
COMMENT ON FUNCTION _prom_catalog.mark_unused_series(bigint[]) IS
    'Marks the given series that have no samples left as deleted (a new gc epoch); returns how many';

-- Deletes marked series once that is safe; returns how many were deleted.
CREATE OR REPLACE FUNCTION _prom_catalog.delete_marked_series()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    oldest_writer timestamptz;
    e record;
    marked bigint[];
    unused bigint[];
    deleted bigint := 0;
    n bigint;
    gone_labels int[];
    gone_positions int[];
    gone_metrics int[];
    gone_last_seen timestamptz[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(1886547829) THEN
        RETURN 0;
    END IF;
    -- epochs this transaction sees committed: their commit happened before now
    UPDATE _prom_catalog.gc_epoch g SET confirmed_at = now() WHERE g.confirmed_at IS NULL;
    SELECT min(a.xact_start) INTO oldest_writer
    FROM pg_catalog.pg_stat_activity a
    WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.xact_start IS NOT NULL
      AND a.backend_type <> 'autovacuum worker';
    FOR e IN SELECT g.epoch FROM _prom_catalog.gc_epoch g
             WHERE g.confirmed_at < now() AND g.confirmed_at < coalesce(oldest_writer, 'infinity')
             ORDER BY g.epoch LOOP
        marked := array(SELECT s.id FROM _prom_catalog.series s WHERE s.delete_epoch = e.epoch);
        CONTINUE WHEN cardinality(marked) = 0;
        unused := _prom_catalog.series_without_samples(marked);
        -- written after all (by a writer that passed its check before the mark): keep them
        UPDATE _prom_catalog.series s SET delete_epoch = NULL
        WHERE s.id = ANY (marked) AND NOT s.id = ANY (unused);
        DELETE FROM prom_data.exemplar x WHERE x.series_id = ANY (unused);
        WITH gone AS (
            DELETE FROM _prom_catalog.series s WHERE s.id = ANY (unused) AND s.delete_epoch = e.epoch
            RETURNING s.metric_id, s.labels, s.last_seen)
        SELECT (SELECT count(*) FROM gone), p.ids, p.positions, p.metrics, p.last_seen
        INTO n, gone_labels, gone_positions, gone_metrics, gone_last_seen
        FROM (SELECT array_agg(u.id) AS ids, array_agg(u.pos) AS positions,   -- one row per label of a series
                     array_agg(g.metric_id) AS metrics, array_agg(g.last_seen) AS last_seen
              FROM gone g, unnest(g.labels) WITH ORDINALITY AS u(id, pos)) p;
        deleted := deleted + n;
        PERFORM _prom_catalog.narrow_activity_after_gc(gone_labels, gone_positions, gone_metrics, gone_last_seen);
    END LOOP;
    RETURN deleted;
END
$$;
COMMENT ON FUNCTION _prom_catalog.delete_marked_series() IS
    'Deletes series marked by garbage collection once no transaction can still write them';
GRANT EXECUTE ON FUNCTION _prom_catalog.delete_marked_series() TO prom_maintenance, prom_admin;

-- Series ids that are not live (unknown, or marked deleted) among the given ones.
CREATE OR REPLACE FUNCTION _prom_catalog.stale_series_ids(series_ids bigint[])
RETURNS bigint[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array(
        SELECT i.id FROM (SELECT DISTINCT x FROM unnest(series_ids) AS x) AS i(id)
        WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.series s WHERE s.id = i.id AND s.delete_epoch IS NULL)
        ORDER BY i.id)
$$;
COMMENT ON FUNCTION _prom_catalog.stale_series_ids(bigint[]) IS 'The given series ids that are deleted or marked for deletion';

-- The current series epoch: it changes whenever garbage collection marks series deleted.
-- A writer that caches series ids reads it before resolving them and passes it to
-- prom_api.put_samples(..., series_epoch), which refuses writes from an older epoch.
CREATE OR REPLACE FUNCTION prom_api.get_series_epoch()
RETURNS bigint
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(max(e.epoch), 0) FROM _prom_catalog.gc_epoch e
$$;
COMMENT ON FUNCTION prom_api.get_series_epoch() IS
    'Current series epoch: changes when garbage collection marks series deleted (see put_samples with series_epoch)';
GRANT EXECUTE ON FUNCTION prom_api.get_series_epoch() TO prom_writer;
