-- Compression of head partitions into prom_data.compressed_sample, and the decoders
-- the read path uses. The work is done in extension/promscale/lifecycle and codec.

-- Times of one compressed row, as microseconds since 2000-01-01.
CREATE OR REPLACE FUNCTION _prom_catalog.decode_times(times bytea)
RETURNS bigint[]
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $python$
decode = SD.get("decode")
if decode is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    decode = SD["decode"] = GD["promscale"].module(plpy, "promscale.codec").decode_times
return decode(times).tolist()
$python$;
COMMENT ON FUNCTION _prom_catalog.decode_times(bytea) IS 'Decodes the times column of a compressed row (microseconds since 2000-01-01)';

-- Values of one compressed row, bit-exact.
CREATE OR REPLACE FUNCTION _prom_catalog.decode_values(vals bytea)
RETURNS double precision[]
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $python$
decode = SD.get("decode")
if decode is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    decode = SD["decode"] = GD["promscale"].module(plpy, "promscale.codec").decode_values
return decode(vals).tolist()
$python$;
COMMENT ON FUNCTION _prom_catalog.decode_values(bytea) IS 'Decodes the vals column of a compressed row';

-- Compressed samples of some series within [start_time, end_time], per series, time-ordered,
-- deduplicated; times as microseconds since 2000-01-01 (the caller converts them).
CREATE OR REPLACE FUNCTION _prom_catalog.compressed_samples(
    series_ids bigint[], start_time timestamptz, end_time timestamptz, start_us bigint, end_us bigint)
RETURNS TABLE (series_id bigint, times_us bigint[], vals double precision[])
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.read")
return mod.compressed_samples(plpy, SD, series_ids or [], start_time, end_time, start_us, end_us)
$python$;
COMMENT ON FUNCTION _prom_catalog.compressed_samples(bigint[], timestamptz, timestamptz, bigint, bigint) IS
    'Decoded compressed samples of the given series in a time range (used by prom_api.get_samples)';

-- Moves the rows of one head partition into compressed rows (see lifecycle/compress.py).
CREATE OR REPLACE FUNCTION _prom_catalog.compress_chunk_rows(table_name name, bucket_us bigint)
RETURNS TABLE (moved bigint, rows_written bigint, stored bigint)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.compress")
stats = mod.compress_chunk(plpy, table_name, bucket_us)
return [(stats["moved"], stats["rows"], stats["stored"])]
$python$;
COMMENT ON FUNCTION _prom_catalog.compress_chunk_rows(name, bigint) IS
    'Moves every visible row of a head partition into compressed rows, merging with stored ones';

-- Compresses one head partition (also one already compressed that received late samples).
-- Returns the number of samples moved, or NULL when another session is compressing it.
CREATE OR REPLACE FUNCTION _prom_catalog.compress_chunk(chunk_id bigint)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c _prom_catalog.sample_chunk;
    bucket interval := prom_api.get_compressed_chunk_interval();
    b timestamptz;
    buckets bigint;
    result record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(1886547826, (chunk_id % 2147483647)::int) THEN  -- 1886547826: compress chunk
        RETURN NULL;
    END IF;
    -- the row lock keeps retention from dropping the partition under us (retention deletes
    -- the catalog row before it drops the table)
    SELECT * INTO c FROM _prom_catalog.sample_chunk sc WHERE sc.id = chunk_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN NULL;  -- dropped by retention meanwhile
    END IF;
    -- Every compressed row this partition can touch is locked (in bucket order, so no
    -- deadlock): a neighbouring partition sharing a bucket waits instead of overwriting.
    buckets := CASE WHEN isfinite(c.start_time) AND isfinite(c.end_time)
                    THEN ceil(extract(epoch FROM c.end_time - _prom_catalog.aligned_chunk_start(c.start_time, bucket))
                              / extract(epoch FROM bucket)) END;
    IF buckets IS NULL OR buckets > 1000 THEN
        PERFORM pg_advisory_xact_lock(1886547827, -1);  -- all buckets
    ELSE
        PERFORM pg_advisory_xact_lock_shared(1886547827, -1);
        FOR b IN SELECT generate_series(_prom_catalog.aligned_chunk_start(c.start_time, bucket), c.end_time - interval '1 microsecond', bucket) LOOP
            PERFORM pg_advisory_xact_lock(1886547827, (floor(extract(epoch FROM b) / 60)::bigint % 2147483647)::int);
        END LOOP;
    END IF;
    SELECT * INTO result FROM _prom_catalog.compress_chunk_rows(c.table_name,
        (extract(epoch FROM bucket) * 1000000)::bigint);
    INSERT INTO _prom_catalog.sample_chunk_state AS s (chunk_id, compressed_at, compressed_samples)
    VALUES (chunk_id, now(), result.moved)
    ON CONFLICT ON CONSTRAINT sample_chunk_state_pkey DO UPDATE
    SET compressed_at = excluded.compressed_at, compressed_samples = s.compressed_samples + excluded.compressed_samples;
    RETURN result.moved;
END
$$;
COMMENT ON FUNCTION _prom_catalog.compress_chunk(bigint) IS
    'Compresses one head partition; returns samples moved, or NULL when another session holds it';

-- Whether a head partition holds any row (late samples after compression).
CREATE OR REPLACE FUNCTION _prom_catalog.chunk_has_rows(table_name name)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM prom_data.%I)', table_name) INTO found;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _prom_catalog.chunk_has_rows(name) IS 'Whether a head partition holds any row';

-- Head partitions due for compression: closed for longer than the compression delay and
-- either never compressed or holding late samples.
CREATE OR REPLACE FUNCTION _prom_catalog.chunks_to_compress()
RETURNS TABLE (chunk_id bigint, table_name name, start_time timestamptz, end_time timestamptz, late boolean)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, c.table_name, c.start_time, c.end_time, s.compressed_at IS NOT NULL
    FROM _prom_catalog.sample_chunk c
    LEFT JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = c.id
    WHERE c.end_time <= now() - prom_api.get_compression_delay()
      AND (s.compressed_at IS NULL OR _prom_catalog.chunk_has_rows(c.table_name))
    ORDER BY c.start_time
$$;
COMMENT ON FUNCTION _prom_catalog.chunks_to_compress() IS 'Head partitions that maintenance should compress now';

-- Compresses every due head partition now, each in its own step (for operators and tests;
-- maintenance does the same with commits in between). Returns samples moved.
CREATE OR REPLACE FUNCTION prom_api.compress_due_chunks()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    total bigint := 0;
    c record;
BEGIN
    FOR c IN SELECT * FROM _prom_catalog.chunks_to_compress() LOOP
        total := total + coalesce(_prom_catalog.compress_chunk(c.chunk_id), 0);
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION prom_api.compress_due_chunks() IS
    'Compresses all head partitions due for compression in one transaction; returns samples moved (execute_maintenance does it in steps)';
