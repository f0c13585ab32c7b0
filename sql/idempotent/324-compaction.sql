-- Compaction: the flushed (level 1) rows of a closed bucket become one fully encoded row per
-- series (level 2), then the level-1 partition is dropped. See docs/architecture.md.
--
-- Locks (advisory): 1886547832 (level-1 partition id): one compactor per partition;
-- 1886547827 (bucket): as for flushes (322-flush.sql).

-- Level-1 partitions due for compaction: their bucket ended more than the compression delay ago.
CREATE OR REPLACE FUNCTION _prom_catalog.partitions_to_compact()
RETURNS TABLE (partition_id bigint, table_name name, start_time timestamptz, end_time timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.id, p.table_name, p.start_time, p.end_time
    FROM _prom_catalog.compressed_partition p
    WHERE p.level = 1 AND p.compacted_xid IS NULL AND p.end_time <= now() - prom_api.get_compression_delay()
    ORDER BY p.start_time
$$;
COMMENT ON FUNCTION _prom_catalog.partitions_to_compact() IS 'Flushed (level 1) partitions that maintenance should compact now';
GRANT EXECUTE ON FUNCTION _prom_catalog.partitions_to_compact() TO prom_reader;

-- Compacts series of a level-1 partition from one series id on, for about a time budget
-- (lifecycle/compact.py).
CREATE OR REPLACE FUNCTION _prom_catalog.compact_rows(
    table_name name, from_series_id bigint, bucket_us bigint, budget_seconds double precision)
RETURNS TABLE (series bigint, samples bigint, next_series_id bigint)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.compact")
stats = mod.compact_rows(plpy, table_name, from_series_id, bucket_us, budget_seconds)
return [(stats["series"], stats["samples"], stats["next"])]
$python$;
COMMENT ON FUNCTION _prom_catalog.compact_rows(name, bigint, bigint, double precision) IS
    'Rewrites the rows of some series of a level-1 partition as level-2 rows; returns the series id to go on from (NULL: done)';

-- One slice of the compaction of a level-1 partition: its series from where the last slice
-- stopped, for about time_budget (a step of maintenance; flushes of the bucket wait for it).
-- The first slice seals the partition: flushes write this bucket's level-2 rows directly from
-- then on. Returns the series compacted (0: nothing left), or NULL when busy or gone.
CREATE OR REPLACE FUNCTION _prom_catalog.compact_partition(partition_id bigint, time_budget interval DEFAULT '2 seconds')
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
DECLARE
    p record;
    result record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(1886547832, (partition_id % 2147483647)::int) THEN
        RETURN NULL;
    END IF;
    BEGIN
        SELECT c.start_time, c.end_time INTO p FROM _prom_catalog.compressed_partition c
        WHERE c.id = partition_id AND c.level = 1;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        PERFORM _prom_catalog.lock_buckets(p.start_time, p.end_time);
        -- after the bucket lock (and holding the row: retention deletes it before dropping the table)
        SELECT c.table_name, c.compact_from, c.compacted_xid INTO p FROM _prom_catalog.compressed_partition c
        WHERE c.id = partition_id FOR NO KEY UPDATE;
        IF NOT FOUND OR p.compacted_xid IS NOT NULL THEN
            RETURN 0;
        END IF;
        SELECT * INTO result FROM _prom_catalog.compact_rows(
            p.table_name, coalesce(p.compact_from, 0),
            (extract(epoch FROM prom_api.get_compressed_chunk_interval()) * 1000000)::bigint,
            extract(epoch FROM time_budget));
        UPDATE _prom_catalog.compressed_partition c
        SET compact_from = coalesce(result.next_series_id, c.compact_from, 0),
            compacted_xid = CASE WHEN result.next_series_id IS NULL THEN pg_current_xact_id() END
        WHERE c.id = partition_id;
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'promscale maintenance: compaction of partition % postponed: a lock was busy', partition_id;
        RETURN NULL;
    END;
    RETURN result.series;
END
$$;
COMMENT ON FUNCTION _prom_catalog.compact_partition(bigint, interval) IS
    'Compacts the next series of a level-1 partition for about a time budget; returns series compacted, NULL when busy';
GRANT EXECUTE ON FUNCTION _prom_catalog.compact_partition(bigint, interval) TO prom_maintenance, prom_admin;

-- Drops the compacted level-1 partitions that no snapshot can need any more. Returns how many
-- were dropped, or NULL when the table lock could not be had quickly (the next run retries).
CREATE OR REPLACE FUNCTION _prom_catalog.drop_compacted_partitions()
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $$
DECLARE
    -- the ones no compaction (or retention) is working on
    candidates bigint[] := _prom_catalog.try_lock_ids(1886547832, ARRAY(
        SELECT c.id FROM _prom_catalog.compressed_partition c
        WHERE c.level = 1 AND c.compacted_xid IS NOT NULL AND _prom_catalog.seen_by_every_snapshot(c.compacted_xid)));
    names name[];
BEGIN
    IF cardinality(candidates) = 0 THEN
        RETURN 0;
    END IF;
    BEGIN
        WITH gone AS (
            DELETE FROM _prom_catalog.compressed_partition c
            WHERE c.id = ANY (candidates) AND c.compacted_xid IS NOT NULL
            RETURNING c.table_name)
        SELECT array_agg(g.table_name) INTO names FROM gone g;
        IF names IS NULL THEN
            RETURN 0;
        END IF;
        PERFORM _prom_catalog.drop_data_tables(names);
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'promscale maintenance: dropping compacted partitions postponed: prom_data.compressed_sample is busy';
        RETURN NULL;
    END;
    RETURN cardinality(names);
END
$$;
COMMENT ON FUNCTION _prom_catalog.drop_compacted_partitions() IS
    'Drops compacted level-1 partitions that no running snapshot needs; returns how many, NULL when postponed';
GRANT EXECUTE ON FUNCTION _prom_catalog.drop_compacted_partitions() TO prom_maintenance, prom_admin;
