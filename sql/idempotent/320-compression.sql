-- Compression of head partitions into prom_data.compressed_sample, and the decoders
-- the read path uses. The work is done in extension/promscale/lifecycle and codec.

-- Times of one compressed row, as microseconds since 2000-01-01.
-- The two decoders run in parallel workers (the views' compressed scans split between them), so
-- they carry the codec's sources (tools/build_extension.py) instead of reading the module table:
-- PL/Python cannot run SPI in parallel mode (see extension/promscale/_loader.py).
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
    sources = {}  # promscale-embed: promscale.codec
    loader = {"__name__": "promscale_embedded_loader"}
    exec(sources["promscale._loader"][1], loader)
    decode = SD["decode"] = loader["import_embedded"](sources, "promscale.codec").decode_times
return decode(times).tolist()
$python$;
COMMENT ON FUNCTION _prom_catalog.decode_times(bytea) IS 'Decodes the times column of a compressed row (microseconds since 2000-01-01)';

-- Values of one compressed row as their IEEE 754 bits (see _prom_catalog.float8_from_bits).
CREATE OR REPLACE FUNCTION _prom_catalog.decode_value_bits(vals bytea)
RETURNS bigint[]
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $python$
decode = SD.get("decode")
if decode is None:
    sources = {}  # promscale-embed: promscale.codec
    loader = {"__name__": "promscale_embedded_loader"}
    exec(sources["promscale._loader"][1], loader)
    decode = SD["decode"] = loader["import_embedded"](sources, "promscale.codec").decode_values
return decode(vals).view("<i8").tolist()
$python$;
COMMENT ON FUNCTION _prom_catalog.decode_value_bits(bytea) IS 'Decodes the vals column of a compressed row, as float8 bit patterns';

-- Compressed samples of some series within [start_time, end_time], per series, time-ordered,
-- deduplicated; times as microseconds since 2000-01-01 and values as float8 bits (the caller
-- converts both with the bit-exact functions above).
CREATE OR REPLACE FUNCTION _prom_catalog.compressed_samples(
    series_ids bigint[], start_time timestamptz, end_time timestamptz, start_us bigint, end_us bigint)
RETURNS TABLE (series_id bigint, times_us bigint[], value_bits bigint[])
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

-- Moves the rows of some head partitions into compressed rows (see lifecycle/compress.py).
CREATE OR REPLACE FUNCTION _prom_catalog.compress_chunk_rows(table_names name[], bucket_us bigint)
RETURNS TABLE (moved bigint, rows_written bigint, stored bigint)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.compress")
stats = mod.compress_chunks(plpy, table_names, bucket_us)
return [(stats["moved"], stats["rows"], stats["stored"])]
$python$;
COMMENT ON FUNCTION _prom_catalog.compress_chunk_rows(name[], bigint) IS
    'Moves every visible row of some head partitions into compressed rows, merging with stored ones';

-- Compresses some head partitions together (normally those of one bucket, so each compressed
-- row is written once), also ones already compressed that received late samples.
-- Returns the number of samples moved, or NULL when another session is compressing one of them.
CREATE OR REPLACE FUNCTION _prom_catalog.compress_chunks(chunk_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bucket interval := prom_api.get_compressed_chunk_interval();
    id bigint;
    c record;
    names name[] := '{}';
    ids bigint[] := '{}';
    lo timestamptz;
    hi timestamptz;
    b timestamptz;
    buckets bigint;
    result record;
BEGIN
    FOR id IN SELECT DISTINCT x FROM unnest(chunk_ids) AS x ORDER BY x LOOP
        IF NOT pg_try_advisory_xact_lock(1886547826, (id % 2147483647)::int) THEN  -- 1886547826: compress chunk
            RETURN NULL;
        END IF;
    END LOOP;
    -- the row locks keep retention from dropping the partitions under us (retention deletes
    -- the catalog row before it drops the table)
    FOR c IN SELECT sc.id, sc.table_name, sc.start_time, sc.end_time FROM _prom_catalog.sample_chunk sc
             WHERE sc.id = ANY (chunk_ids) ORDER BY sc.id FOR KEY SHARE LOOP
        names := names || c.table_name;
        ids := ids || c.id;
        lo := least(lo, c.start_time);
        hi := greatest(hi, c.end_time);
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RETURN NULL;  -- dropped by retention meanwhile
    END IF;
    -- Every compressed row these partitions can touch is locked (in bucket order, so no
    -- deadlock): a neighbouring partition sharing a bucket waits instead of overwriting.
    buckets := CASE WHEN isfinite(lo) AND isfinite(hi)
                    THEN ceil(extract(epoch FROM hi - _prom_catalog.aligned_chunk_start(lo, bucket))
                              / extract(epoch FROM bucket)) END;
    IF buckets IS NULL OR buckets > 1000 THEN
        PERFORM pg_advisory_xact_lock(1886547827, -1);  -- all buckets
    ELSE
        PERFORM pg_advisory_xact_lock_shared(1886547827, -1);
        FOR b IN SELECT generate_series(_prom_catalog.aligned_chunk_start(lo, bucket), hi - interval '1 microsecond', bucket) LOOP
            PERFORM pg_advisory_xact_lock(1886547827, (floor(extract(epoch FROM b) / 60)::bigint % 2147483647)::int);
        END LOOP;
    END IF;
    SELECT * INTO result FROM _prom_catalog.compress_chunk_rows(names, (extract(epoch FROM bucket) * 1000000)::bigint);
    INSERT INTO _prom_catalog.sample_chunk_state AS s (chunk_id, compressed_at)
    SELECT x, now() FROM unnest(ids) AS x
    ON CONFLICT ON CONSTRAINT sample_chunk_state_pkey DO UPDATE SET compressed_at = excluded.compressed_at;
    RETURN result.moved;
END
$$;
COMMENT ON FUNCTION _prom_catalog.compress_chunks(bigint[]) IS
    'Compresses some head partitions in one step; returns samples moved, or NULL when another session holds one';

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

-- Head partitions due for compression: the compressed row interval (bucket) holding their end
-- has closed more than the compression delay ago, and they were never compressed or hold late
-- samples. Waiting for the whole bucket writes each compressed row once instead of rewriting
-- it for every head partition (less work, no dead row versions).
CREATE OR REPLACE FUNCTION _prom_catalog.chunks_to_compress()
RETURNS TABLE (chunk_id bigint, table_name name, start_time timestamptz, end_time timestamptz, late boolean,
               bucket timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, c.table_name, c.start_time, c.end_time, s.compressed_at IS NOT NULL,
           _prom_catalog.aligned_chunk_start(c.start_time, prom_api.get_compressed_chunk_interval())
    FROM _prom_catalog.sample_chunk c
    LEFT JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = c.id
    WHERE isfinite(c.end_time)
      AND _prom_catalog.aligned_chunk_start(c.end_time - interval '1 microsecond', prom_api.get_compressed_chunk_interval())
          + prom_api.get_compressed_chunk_interval() <= now() - prom_api.get_compression_delay()
      AND (s.compressed_at IS NULL OR _prom_catalog.chunk_has_rows(c.table_name))
    ORDER BY c.start_time
$$;
COMMENT ON FUNCTION _prom_catalog.chunks_to_compress() IS 'Head partitions that maintenance should compress now';

-- Due head partitions grouped by the bucket they start in: one maintenance step each.
CREATE OR REPLACE FUNCTION _prom_catalog.chunk_groups_to_compress()
RETURNS TABLE (chunk_ids bigint[], table_names name[], start_time timestamptz, end_time timestamptz, late boolean)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(c.chunk_id ORDER BY c.start_time), array_agg(c.table_name ORDER BY c.start_time),
           min(c.start_time), max(c.end_time), bool_and(c.late)
    FROM _prom_catalog.chunks_to_compress() c
    GROUP BY c.bucket
    ORDER BY c.bucket
$$;
COMMENT ON FUNCTION _prom_catalog.chunk_groups_to_compress() IS 'Due head partitions, grouped into compression steps';

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
    FOR c IN SELECT * FROM _prom_catalog.chunk_groups_to_compress() LOOP
        total := total + coalesce(_prom_catalog.compress_chunks(c.chunk_ids), 0);
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION prom_api.compress_due_chunks() IS
    'Compresses all head partitions due for compression in one transaction; returns samples moved (execute_maintenance does it in steps)';

-- The samples of one metric in a time range, one row per sample (through get_samples), for
-- callers that have the range as values rather than as a filter on a prom_metric view:
--     SELECT s.labels, m.time, m.value
--     FROM prom_api.get_metric_samples('node_load1', now() - interval '1 day', now()) m
--     JOIN prom_series.node_load1 s USING (series_id);
CREATE OR REPLACE FUNCTION prom_api.get_metric_samples(metric_name text, start_time timestamptz, end_time timestamptz)
RETURNS TABLE (series_id bigint, "time" timestamptz, value double precision)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.series_id, x.t, x.v
    FROM prom_api.get_samples(
             ARRAY(SELECT s.id FROM _prom_catalog.series s
                   WHERE s.metric_id = _prom_catalog.get_metric_id(metric_name) AND s.delete_epoch IS NULL),
             start_time, end_time) g
    CROSS JOIN LATERAL unnest(g.times, g.vals) AS x(t, v)
$$;
COMMENT ON FUNCTION prom_api.get_metric_samples(text, timestamptz, timestamptz) IS
    'Samples of one metric within [start_time, end_time], one row each (series_id, time, value); reads compressed data by range';
