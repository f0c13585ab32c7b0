-- Lifecycle settings: retention (default and per metric) and compression timing.
-- Defaults live in the getters, not in _ps_catalog.setting, so only values a user set are
-- stored (and dumped): a restore never collides with rows the install script made
-- (see sql/migrations/0008-settings-defaults-in-getters.sql).

-- (the interval-setting helpers are in 010-settings.sql)

-- Retention ------------------------------------------------------------------

CREATE OR REPLACE FUNCTION prom_api.get_default_retention_period()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('retention_period', interval '90 days')
$$;
COMMENT ON FUNCTION prom_api.get_default_retention_period() IS
    'How long samples of metrics without their own retention period are kept (default 90 days)';
GRANT EXECUTE ON FUNCTION prom_api.get_default_retention_period() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_default_retention_period(retention_period interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('retention_period', retention_period, interval '1 hour');
    PERFORM _prom_catalog.retention_changed();
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_default_retention_period(interval) IS
    'Sets how long samples are kept for metrics without their own retention period; applied by maintenance';
GRANT EXECUTE ON FUNCTION prom_api.set_default_retention_period(interval) TO prom_admin;

-- Metric id of a metric name, or a clear error.
CREATE OR REPLACE FUNCTION _prom_catalog.get_metric_id(metric_name text)
RETURNS int
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id int;
BEGIN
    SELECT m.id INTO found_id FROM _prom_catalog.metric m WHERE m.metric_name = get_metric_id.metric_name;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'unknown metric %: no samples of it were ever written', coalesce(quote_literal(metric_name), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'prom_info.metric lists the known metrics';
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION _prom_catalog.get_metric_id(text) IS 'Id of a metric by name; raises undefined_object when unknown';
GRANT EXECUTE ON FUNCTION _prom_catalog.get_metric_id(text) TO prom_reader;

-- Refuses a per-metric retention period that is missing, under an hour or in months (whose
-- length varies); `what` names it in the message ('retention period', 'rollup retention period').
CREATE OR REPLACE FUNCTION _prom_catalog.check_metric_retention_period(what text, retention_period interval, metric_name text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF retention_period IS NULL OR retention_period < interval '1 hour'
       OR extract(month FROM retention_period) <> 0 OR extract(year FROM retention_period) <> 0 THEN
        RAISE EXCEPTION 'invalid % % for metric %: it must be at least 1 hour and use days, hours, minutes or seconds',
            what, coalesce(retention_period::text, 'NULL'), metric_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION _prom_catalog.check_metric_retention_period(text, interval, text) IS
    'Raises invalid_parameter_value for a per-metric retention period under an hour or in months';

CREATE OR REPLACE FUNCTION prom_api.set_metric_retention_period(metric_name text, retention_period interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mid int := _prom_catalog.get_metric_id(metric_name);
BEGIN
    PERFORM _prom_catalog.check_metric_retention_period('retention period', retention_period, metric_name);
    INSERT INTO _prom_catalog.metric_retention (metric_id, retention_period) VALUES (mid, retention_period)
    ON CONFLICT (metric_id) DO UPDATE SET retention_period = excluded.retention_period;
    PERFORM _prom_catalog.retention_changed();
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_metric_retention_period(text, interval) IS
    'Sets how long samples of one metric are kept, overriding the default; applied by maintenance';
GRANT EXECUTE ON FUNCTION prom_api.set_metric_retention_period(text, interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.reset_metric_retention_period(metric_name text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM _prom_catalog.metric_retention r WHERE r.metric_id = _prom_catalog.get_metric_id(metric_name);
    PERFORM _prom_catalog.retention_changed();
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.reset_metric_retention_period(text) IS
    'Makes a metric use the default retention period again';
GRANT EXECUTE ON FUNCTION prom_api.reset_metric_retention_period(text) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.get_metric_retention_period(metric_name text)
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.retention_period FROM _prom_catalog.metric_retention r
                     WHERE r.metric_id = _prom_catalog.get_metric_id(metric_name)),
                    prom_api.get_default_retention_period())
$$;
COMMENT ON FUNCTION prom_api.get_metric_retention_period(text) IS
    'Retention period in force for a metric (its own, or the default)';
GRANT EXECUTE ON FUNCTION prom_api.get_metric_retention_period(text) TO prom_reader;

-- Retention periods changed: partitions must be looked at again by maintenance.
CREATE OR REPLACE FUNCTION _prom_catalog.retention_changed()
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE _prom_catalog.compressed_partition SET purged_up_to = NULL WHERE purged_up_to IS NOT NULL;
    UPDATE _prom_catalog.sample_chunk_state SET purged_up_to = NULL WHERE purged_up_to IS NOT NULL;
$$;
COMMENT ON FUNCTION _prom_catalog.retention_changed() IS 'Forgets how far retention was applied, after a retention period changed';

-- Compression -----------------------------------------------------------------

CREATE OR REPLACE FUNCTION prom_api.get_compression_delay()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('compression_delay', interval '1 hour')
$$;
COMMENT ON FUNCTION prom_api.get_compression_delay() IS
    'How long after the end of a bucket (compressed row interval) maintenance waits before it compacts the bucket''s flushed rows (default 1 hour)';
GRANT EXECUTE ON FUNCTION prom_api.get_compression_delay() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_compression_delay(delay interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('compression_delay', delay, interval '0');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_compression_delay(interval) IS
    'Sets how long after its end a bucket is compacted (late samples are merged either way)';
GRANT EXECUTE ON FUNCTION prom_api.set_compression_delay(interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.get_flush_delay()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('flush_delay', interval '5 minutes')
$$;
COMMENT ON FUNCTION prom_api.get_flush_delay() IS
    'How long after its end a head partition waits before maintenance flushes it into per-series rows (default 5 minutes)';
GRANT EXECUTE ON FUNCTION prom_api.get_flush_delay() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_flush_delay(delay interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('flush_delay', delay, interval '0');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_flush_delay(interval) IS
    'Sets how long after its end a head partition is flushed (samples arriving later are merged either way)';
GRANT EXECUTE ON FUNCTION prom_api.set_flush_delay(interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.get_compressed_chunk_interval()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('compressed_chunk_interval', interval '4 hours')
$$;
COMMENT ON FUNCTION prom_api.get_compressed_chunk_interval() IS
    'Time span of one compressed row (one series, one bucket); default 4 hours';
GRANT EXECUTE ON FUNCTION prom_api.get_compressed_chunk_interval() TO prom_reader;

-- Largest span a compressed row has ever had: readers look this far back for rows overlapping a range.
-- The planner library calls it for every view query with a time filter (src/compressed_time_bounds.c),
-- as the querying role: a tenant reader may not read the settings table, so it runs as definer.
CREATE OR REPLACE FUNCTION _prom_catalog.get_compressed_row_span_max()
RETURNS interval
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT greatest(prom_api.get_compressed_chunk_interval(),
                    _prom_catalog.get_interval_setting('compressed_chunk_interval_max', interval '4 hours'))
$$;
COMMENT ON FUNCTION _prom_catalog.get_compressed_row_span_max() IS
    'Longest time span of any compressed row written so far';
GRANT EXECUTE ON FUNCTION _prom_catalog.get_compressed_row_span_max() TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.set_compressed_chunk_interval(chunk_interval interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    span_max interval := _prom_catalog.get_compressed_row_span_max();
BEGIN
    IF chunk_interval IS NOT NULL AND (extract(epoch FROM interval '1 day') / extract(epoch FROM chunk_interval)) <>
        floor(extract(epoch FROM interval '1 day') / extract(epoch FROM chunk_interval)) THEN
        RAISE EXCEPTION 'invalid compressed chunk interval %: it must divide one day evenly (e.g. 1 hour, 4 hours, 1 day)', chunk_interval
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _prom_catalog.set_interval_setting('compressed_chunk_interval_max', greatest(chunk_interval, span_max),
                                               interval '1 minute');
    PERFORM _prom_catalog.set_interval_setting('compressed_chunk_interval', chunk_interval, interval '1 minute');
    IF chunk_interval > span_max THEN
        -- Plans of view queries hold the span as a constant and depend on this function
        -- (src/compressed_time_bounds.c): altering it makes every session plan them again.
        ALTER FUNCTION _prom_catalog.get_compressed_row_span_max() STABLE;
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_compressed_chunk_interval(interval) IS
    'Sets the time span of compressed rows written from now on (longer rows compress better; must divide a day)';
GRANT EXECUTE ON FUNCTION prom_api.set_compressed_chunk_interval(interval) TO prom_admin;

-- Conversions between timestamptz and microseconds since 2000-01-01 (the codecs' unit).
CREATE OR REPLACE FUNCTION _prom_catalog.timestamptz_to_us(t timestamptz)
RETURNS bigint
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN t = '-infinity' THEN -9223372036854775808
                WHEN t = 'infinity' THEN 9223372036854775807
                ELSE (extract(epoch FROM t - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint END
$$;
COMMENT ON FUNCTION _prom_catalog.timestamptz_to_us(timestamptz) IS 'Microseconds since 2000-01-01 UTC (±infinity: int8 bounds)';
GRANT EXECUTE ON FUNCTION _prom_catalog.timestamptz_to_us(timestamptz) TO prom_reader;

-- Bit-exact conversions for values decoded by PL/Python. PL/Python hands float8 and
-- timestamptz results to PostgreSQL as text, which loses NaN payloads (a stale marker would
-- come back as a plain NaN). So decoders return int8 (exact as text) and these reinterpret
-- the 64 bits: on 64-bit servers int8, float8 and timestamptz are all pass-by-value
-- 8-byte Datums, and int8up (int8's unary plus) returns its argument's Datum untouched.
-- LANGUAGE internal: no SET search_path (it resolves no names, and a SET would cost a
-- GUC save/restore per value).
DO $$
BEGIN
    IF NOT (SELECT t.typbyval FROM pg_catalog.pg_type t WHERE t.oid = 'pg_catalog.float8'::pg_catalog.regtype) THEN
        RAISE EXCEPTION 'promscale needs a 64-bit PostgreSQL server (float8 passed by value)';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION _prom_catalog.float8_from_bits(bits bigint)
RETURNS double precision
LANGUAGE internal
IMMUTABLE
STRICT
PARALLEL SAFE
AS 'int8up';
COMMENT ON FUNCTION _prom_catalog.float8_from_bits(bigint) IS
    'The float8 whose IEEE 754 bits are these (NaN payloads such as stale markers kept)';
GRANT EXECUTE ON FUNCTION _prom_catalog.float8_from_bits(bigint) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.timestamptz_from_us(us bigint)
RETURNS timestamptz
LANGUAGE internal
IMMUTABLE
STRICT
PARALLEL SAFE
AS 'int8up';
COMMENT ON FUNCTION _prom_catalog.timestamptz_from_us(bigint) IS
    'The timestamptz that is this many microseconds after 2000-01-01 UTC (PostgreSQL''s internal form)';
GRANT EXECUTE ON FUNCTION _prom_catalog.timestamptz_from_us(bigint) TO prom_reader, prom_tenant_reader;
