-- Compressed rows (prom_data.compressed_sample): the decoders the read path uses. They are
-- written by flushes and compaction (322-flush.sql, 324-compaction.sql); the work is done in
-- extension/promscale/lifecycle and codec.

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
GRANT EXECUTE ON FUNCTION _prom_catalog.decode_times(bytea) TO prom_reader, prom_tenant_reader;

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
GRANT EXECUTE ON FUNCTION _prom_catalog.decode_value_bits(bytea) TO prom_reader, prom_tenant_reader;

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
GRANT EXECUTE ON FUNCTION _prom_catalog.compressed_samples(bigint[], timestamptz, timestamptz, bigint, bigint)
    TO prom_reader;

-- Compression used to move rows out of the head one by one; flush (322-flush.sql) and
-- compaction (324-compaction.sql) replaced it.
DROP FUNCTION IF EXISTS _prom_catalog.chunk_groups_to_compress();
DROP FUNCTION IF EXISTS _prom_catalog.chunks_to_compress();
DROP FUNCTION IF EXISTS _prom_catalog.chunk_has_rows(name);
DROP FUNCTION IF EXISTS _prom_catalog.compress_chunks(bigint[]);
DROP FUNCTION IF EXISTS _prom_catalog.compress_chunk_rows(name[], bigint);

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
GRANT EXECUTE ON FUNCTION prom_api.get_metric_samples(text, timestamptz, timestamptz) TO prom_reader;
