-- Flush: closed head partitions become per-series rows of prom_data.compressed_sample, and
-- are then dropped. See docs/architecture.md, "Samples: three levels".
--
-- Locks (advisory, keyed by head partition id or bucket):
--   1886547831 (partition id)  writers hold it shared from before they look at the partition's
--                              state until they commit (060-ingest.sql); a flush and a drop take
--                              it exclusively, so a writer either lands before the flush reads
--                              the partition, or sees the partition flushed (and marks late rows)
--                              or gone (and writes a new partition);
--   1886547826 (partition id)  one flusher per partition (tried: a busy one is skipped);
--   1886547827 (bucket)        one writer of each bucket's compressed rows at a time (flushes,
--                              compaction slices; -1 shared, or exclusive for "every bucket").

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0007-cold-tier.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.sample_chunk_state TO prom_reader;

-- Takes the bucket locks of [lo, hi), in bucket order (no deadlock between two takers).
CREATE OR REPLACE FUNCTION _prom_catalog.lock_buckets(lo timestamptz, hi timestamptz)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bucket interval := prom_api.get_compressed_chunk_interval();
    buckets bigint := CASE WHEN isfinite(lo) AND isfinite(hi)
                           THEN ceil(extract(epoch FROM hi - _prom_catalog.aligned_chunk_start(lo, bucket))
                                     / extract(epoch FROM bucket)) END;
    b timestamptz;
BEGIN
    IF buckets IS NULL OR buckets > 1000 THEN
        PERFORM pg_advisory_xact_lock(1886547827, -1);  -- every bucket
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1886547827, -1);
    FOR b IN SELECT generate_series(_prom_catalog.aligned_chunk_start(lo, bucket), hi - interval '1 microsecond', bucket) LOOP
        PERFORM pg_advisory_xact_lock(1886547827, (floor(extract(epoch FROM b) / 60)::bigint % 2147483647)::int);
    END LOOP;
END
$$;
COMMENT ON FUNCTION _prom_catalog.lock_buckets(timestamptz, timestamptz) IS
    'Locks the compressed rows of the buckets a time range touches until the end of the transaction';

-- Whether every snapshot now running sees transaction x as committed (x committed before all
-- of them began): then dropping what x made redundant cannot hide a sample from anyone. A
-- snapshot whose xmin is past x was taken after x ended. Autovacuum holds no query snapshot;
-- a walsender's xmin is a hot standby's oldest snapshot (hot_standby_feedback), which counts.
CREATE OR REPLACE FUNCTION _prom_catalog.seen_by_every_snapshot(x xid8)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER  -- other roles' backend_xmin is visible to superusers only
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x >= pg_snapshot_xmax(pg_current_snapshot())  -- from another cluster (restored from a dump)
        OR age(x::xid) < 0                                -- older than 2^31 transactions
        OR NOT EXISTS (
            SELECT 1 FROM pg_stat_activity a
            WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.backend_xmin IS NOT NULL
              AND a.backend_type <> 'autovacuum worker'
              AND age(a.backend_xmin) >= age(x::xid))
$$;
COMMENT ON FUNCTION _prom_catalog.seen_by_every_snapshot(xid8) IS
    'Whether every running snapshot sees a transaction as committed';

-- The ids whose advisory lock (lock_class, id) this transaction takes without waiting.
CREATE OR REPLACE FUNCTION _prom_catalog.try_lock_ids(lock_class int, ids bigint[])
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
    locked bigint[] := '{}';
BEGIN
    FOR id IN SELECT DISTINCT x FROM unnest(ids) AS x ORDER BY x LOOP
        IF pg_try_advisory_xact_lock(lock_class, (id % 2147483647)::int) THEN
            locked := locked || id;
        END IF;
    END LOOP;
    RETURN locked;
END
$$;
COMMENT ON FUNCTION _prom_catalog.try_lock_ids(int, bigint[]) IS
    'Takes the advisory locks of some ids that are free now; returns those ids';

-- Drops tables of prom_data in one statement: one exclusive lock on their parent, whose wait
-- lock_timeout bounds (the caller's).
CREATE OR REPLACE FUNCTION _prom_catalog.drop_data_tables(names name[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE 'DROP TABLE ' || (SELECT string_agg(format('prom_data.%I', n), ', ') FROM unnest(names) AS n);
END
$$;
COMMENT ON FUNCTION _prom_catalog.drop_data_tables(name[]) IS 'Drops some tables of prom_data in one statement';

-- Head partitions due for a flush: ended more than the flush delay ago, and never flushed or
-- written to since (late rows). One row per step: a partition on its own, or, where their
-- bucket is due for compaction already (a backlog, late samples), all of the bucket's, so that
-- each compacted row they go into is written once.
CREATE OR REPLACE FUNCTION _prom_catalog.chunks_to_flush()
RETURNS TABLE (chunk_ids bigint[], table_names name[], start_time timestamptz, end_time timestamptz, late boolean)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(c.id ORDER BY c.start_time), array_agg(c.table_name ORDER BY c.start_time),
           min(c.start_time), max(c.end_time), bool_or(coalesce(s.late_rows, false))
    FROM _prom_catalog.sample_chunk c
    LEFT JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = c.id
    CROSS JOIN LATERAL (SELECT CASE WHEN isfinite(c.start_time)
                                    THEN _prom_catalog.aligned_chunk_start(c.start_time, prom_api.get_compressed_chunk_interval())
                               END AS start) b
    WHERE c.end_time <= now() - prom_api.get_flush_delay()
      AND (s.flush_xid IS NULL OR s.late_rows)
    GROUP BY CASE WHEN b.start + prom_api.get_compressed_chunk_interval() <= now() - prom_api.get_compression_delay()
                  THEN b.start END,
             CASE WHEN b.start + prom_api.get_compressed_chunk_interval() <= now() - prom_api.get_compression_delay()
                  THEN NULL ELSE c.id END
    ORDER BY 3
$$;
COMMENT ON FUNCTION _prom_catalog.chunks_to_flush() IS 'Head partitions that maintenance should flush now, one row per flush step';
GRANT EXECUTE ON FUNCTION _prom_catalog.chunks_to_flush() TO prom_reader;

-- Reads head partitions and writes their samples as compressed rows (lifecycle/flush.py).
-- Index scans give the rows in series order, streamed in batches: a sort of a whole
-- partition (60 M rows at 1 M series) would spill to disk, a hash aggregate hold it all.
CREATE OR REPLACE FUNCTION _prom_catalog.flush_chunk_rows(
    table_names name[], bucket_us bigint, flushed_keys bigint[], flushed_tables name[])
RETURNS TABLE (samples bigint, flushed_rows bigint, compacted bigint)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.flush")
stats = mod.flush_chunks(plpy, table_names, bucket_us, flushed_keys or [], flushed_tables or [])
return [(stats["samples"], stats["flushed_rows"], stats["compacted"])]
$python$;
COMMENT ON FUNCTION _prom_catalog.flush_chunk_rows(name[], bigint, bigint[], name[]) IS
    'Writes every row of some head partitions as compressed rows (level 1 for the given keys, else level 2)';

-- For each bucket [lo, hi) touches: the level-1 partition and key its flushed samples go to,
-- creating the partition if needed. Buckets left out are written to level 2 directly: they are
-- being compacted, or due for it (late samples, a backlog).
CREATE OR REPLACE FUNCTION _prom_catalog.flush_targets(lo timestamptz, hi timestamptz)
RETURNS TABLE (key_us bigint, table_name name)
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bucket interval := prom_api.get_compressed_chunk_interval();
    b timestamptz;
    key timestamptz;
    leaf record;
BEGIN
    IF NOT (isfinite(lo) AND isfinite(hi)) OR hi - lo > 1000 * bucket THEN
        RETURN;
    END IF;
    FOR b IN SELECT generate_series(_prom_catalog.aligned_chunk_start(lo, bucket), hi - interval '1 microsecond', bucket) LOOP
        key := greatest(b, lo);
        SELECT p.table_name, p.compact_from INTO leaf
        FROM _prom_catalog.compressed_partition p
        WHERE p.level = 1 AND tstzrange(p.start_time, p.end_time) @> key;
        IF NOT FOUND THEN
            CONTINUE WHEN b + bucket <= now() - prom_api.get_compression_delay();
            PERFORM _prom_catalog.ensure_compressed_partitions(ARRAY[key], 1::smallint);
            SELECT p.table_name, p.compact_from INTO leaf
            FROM _prom_catalog.compressed_partition p
            WHERE p.level = 1 AND tstzrange(p.start_time, p.end_time) @> key;
        END IF;
        CONTINUE WHEN leaf.compact_from IS NOT NULL;  -- sealed for compaction
        key_us := _prom_catalog.timestamptz_to_us(key);
        table_name := leaf.table_name;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION _prom_catalog.flush_targets(timestamptz, timestamptz) IS
    'The level-1 partitions (and row keys) a flush of a time range writes to; other buckets get level-2 rows';

-- Flushes some head partitions of one bucket in one step. Returns the samples flushed, or
-- NULL when another session is flushing one of them or a lock could not be had in time.
CREATE OR REPLACE FUNCTION _prom_catalog.flush_chunks(chunk_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
DECLARE
    id bigint;
    ids bigint[];
    names name[];
    lo timestamptz;
    hi timestamptz;
    targets record;
    result record;
BEGIN
    -- the flush must read every row written before it locked writers out: with an older
    -- snapshot it would miss some, and then drop the partition that holds them
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'flushing head partitions needs READ COMMITTED isolation, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    FOR id IN SELECT DISTINCT x FROM unnest(chunk_ids) AS x ORDER BY x LOOP
        IF NOT pg_try_advisory_xact_lock(1886547826, (id % 2147483647)::int) THEN
            RETURN NULL;
        END IF;
    END LOOP;
    BEGIN
        -- retention deletes a partition's catalog row before dropping it: it waits for us
        SELECT min(c.start_time), max(c.end_time) INTO lo, hi
        FROM (SELECT sc.start_time, sc.end_time FROM _prom_catalog.sample_chunk sc
              WHERE sc.id = ANY (chunk_ids) ORDER BY sc.id FOR KEY SHARE) c;
        IF lo IS NULL THEN
            RETURN NULL;  -- dropped meanwhile
        END IF;
        PERFORM _prom_catalog.lock_buckets(lo, hi);
        -- no writer in these partitions from here on (060-ingest.sql), the ones inside are waited for
        FOR id IN SELECT DISTINCT x FROM unnest(chunk_ids) AS x ORDER BY x LOOP
            PERFORM pg_advisory_xact_lock(1886547831, (id % 2147483647)::int);
        END LOOP;
        -- what still needs a flush, seen after the locks
        SELECT array_agg(c.id), array_agg(c.table_name), min(c.start_time), max(c.end_time) INTO ids, names, lo, hi
        FROM _prom_catalog.sample_chunk c
        LEFT JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = c.id
        WHERE c.id = ANY (chunk_ids) AND (s.flush_xid IS NULL OR s.late_rows);
        IF ids IS NULL THEN
            RETURN 0;
        END IF;
        SELECT array_agg(t.key_us) AS keys, array_agg(t.table_name) AS tables INTO targets
        FROM _prom_catalog.flush_targets(lo, hi) t;
        SELECT * INTO result FROM _prom_catalog.flush_chunk_rows(
            names, (extract(epoch FROM prom_api.get_compressed_chunk_interval()) * 1000000)::bigint,
            targets.keys, targets.tables);
        INSERT INTO _prom_catalog.sample_chunk_state AS s (chunk_id, flushed_at, flush_xid, late_rows)
        SELECT x, now(), pg_current_xact_id(), false FROM unnest(ids) AS x
        ON CONFLICT ON CONSTRAINT sample_chunk_state_pkey
        DO UPDATE SET flushed_at = excluded.flushed_at, flush_xid = excluded.flush_xid, late_rows = false;
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'promscale maintenance: flush of head partitions % postponed: a lock was busy', chunk_ids;
        RETURN NULL;
    END;
    RETURN result.samples;
END
$$;
COMMENT ON FUNCTION _prom_catalog.flush_chunks(bigint[]) IS
    'Flushes some head partitions into compressed rows; returns samples flushed, NULL when busy';
GRANT EXECUTE ON FUNCTION _prom_catalog.flush_chunks(bigint[]) TO prom_maintenance, prom_admin;

-- Drops the flushed head partitions that no snapshot can need any more, in one statement
-- (one short exclusive lock on prom_data.sample). Returns how many were dropped, or NULL
-- when the table lock could not be had quickly (a long query runs; the next run retries).
CREATE OR REPLACE FUNCTION _prom_catalog.drop_flushed_chunks()
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- while DROP waits for the lock, new queries and writes queue behind it: wait briefly
SET lock_timeout = '200ms'
AS $$
DECLARE
    -- the ones without a writer (who marks late rows) or a flush inside
    candidates bigint[] := _prom_catalog.try_lock_ids(1886547831, ARRAY(
        SELECT sc.id FROM _prom_catalog.sample_chunk sc
        JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = sc.id
        WHERE s.flush_xid IS NOT NULL AND NOT s.late_rows AND _prom_catalog.seen_by_every_snapshot(s.flush_xid)));
    names name[];
BEGIN
    IF cardinality(candidates) = 0 THEN
        RETURN 0;
    END IF;
    BEGIN
        -- seen after the locks: no writer added rows since the flush
        WITH gone AS (
            DELETE FROM _prom_catalog.sample_chunk sc
            USING _prom_catalog.sample_chunk_state s
            WHERE sc.id = ANY (candidates) AND s.chunk_id = sc.id AND s.flush_xid IS NOT NULL AND NOT s.late_rows
            RETURNING sc.id, sc.table_name)
        SELECT array_agg(g.table_name) INTO names FROM gone g;
        IF names IS NULL THEN
            RETURN 0;
        END IF;
        DELETE FROM _prom_catalog.sample_chunk_state s
        WHERE s.chunk_id = ANY (candidates) AND NOT EXISTS (SELECT 1 FROM _prom_catalog.sample_chunk sc WHERE sc.id = s.chunk_id);
        PERFORM _prom_catalog.drop_data_tables(names);
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'promscale maintenance: dropping flushed head partitions postponed: prom_data.sample is busy';
        RETURN NULL;
    END;
    RETURN cardinality(names);
END
$$;
COMMENT ON FUNCTION _prom_catalog.drop_flushed_chunks() IS
    'Drops flushed head partitions that no running snapshot needs; returns how many, NULL when postponed';
GRANT EXECUTE ON FUNCTION _prom_catalog.drop_flushed_chunks() TO prom_maintenance, prom_admin;
