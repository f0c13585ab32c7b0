-- Rollups (docs/rollups.md): maintenance computes 5-minute and 1-hour aggregates of every
-- series from final samples (extension/promscale/rollup), keeps them for their own retention
-- periods and exposes them as views prom_rollup_5m.<metric> and prom_rollup_1h.<metric>.

-- The resolution in seconds of '5m' or '1h'; raises invalid_parameter_value otherwise.
CREATE OR REPLACE FUNCTION _prom_catalog.rollup_resolution_s(resolution text)
RETURNS int
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE resolution
        WHEN '5m' THEN RETURN 300;
        WHEN '1h' THEN RETURN 3600;
        ELSE RAISE EXCEPTION 'invalid rollup resolution %: it must be ''5m'' or ''1h''', coalesce(quote_literal(resolution), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$$;
COMMENT ON FUNCTION _prom_catalog.rollup_resolution_s(text) IS 'Seconds of a rollup resolution named ''5m'' or ''1h''';
GRANT EXECUTE ON FUNCTION _prom_catalog.rollup_resolution_s(text) TO prom_reader;

-- Default retention of rollups of one resolution ('5m': 365 days, '1h': 1825 days).
CREATE OR REPLACE FUNCTION prom_api.get_default_rollup_retention_period(resolution text)
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting(
        'rollup_' || resolution || '_retention_period',
        CASE _prom_catalog.rollup_resolution_s(resolution) WHEN 300 THEN interval '365 days' ELSE interval '1825 days' END)
$$;
COMMENT ON FUNCTION prom_api.get_default_rollup_retention_period(text) IS
    'How long rollups of a resolution (''5m'' or ''1h'') are kept unless a metric says otherwise';
GRANT EXECUTE ON FUNCTION prom_api.get_default_rollup_retention_period(text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_default_rollup_retention_period(resolution text, retention_period interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.rollup_resolution_s(resolution);
    PERFORM _prom_catalog.set_interval_setting('rollup_' || resolution || '_retention_period', retention_period, interval '1 hour');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_default_rollup_retention_period(text, interval) IS
    'Sets how long rollups of a resolution (''5m'' or ''1h'') are kept by default; applied by maintenance';
GRANT EXECUTE ON FUNCTION prom_api.set_default_rollup_retention_period(text, interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.set_metric_rollup_retention_period(metric_name text, resolution text, retention_period interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mid int := _prom_catalog.get_metric_id(metric_name);
    res int := _prom_catalog.rollup_resolution_s(resolution);
BEGIN
    PERFORM _prom_catalog.check_metric_retention_period('rollup retention period', retention_period, metric_name);
    INSERT INTO _prom_catalog.rollup_retention (metric_id, resolution_s, retention_period) VALUES (mid, res, retention_period)
    ON CONFLICT (metric_id, resolution_s) DO UPDATE SET retention_period = excluded.retention_period;
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_metric_rollup_retention_period(text, text, interval) IS
    'Sets how long one metric''s rollups of a resolution (''5m'' or ''1h'') are kept, overriding the default';
GRANT EXECUTE ON FUNCTION prom_api.set_metric_rollup_retention_period(text, text, interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.reset_metric_rollup_retention_period(metric_name text, resolution text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM _prom_catalog.rollup_retention r
    WHERE r.metric_id = _prom_catalog.get_metric_id(metric_name)
      AND r.resolution_s = _prom_catalog.rollup_resolution_s(resolution);
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.reset_metric_rollup_retention_period(text, text) IS
    'Makes one metric''s rollups of a resolution follow the default retention again';
GRANT EXECUTE ON FUNCTION prom_api.reset_metric_rollup_retention_period(text, text) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.get_metric_rollup_retention_period(metric_name text, resolution text)
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.retention_period FROM _prom_catalog.rollup_retention r
                     WHERE r.metric_id = _prom_catalog.get_metric_id(metric_name)
                       AND r.resolution_s = _prom_catalog.rollup_resolution_s(resolution)),
                    prom_api.get_default_rollup_retention_period(resolution))
$$;
COMMENT ON FUNCTION prom_api.get_metric_rollup_retention_period(text, text) IS
    'How long one metric''s rollups of a resolution (''5m'' or ''1h'') are kept';
GRANT EXECUTE ON FUNCTION prom_api.get_metric_rollup_retention_period(text, text) TO prom_reader;

-- The final horizon: every bucket before it is compacted (no head partition and no level-1
-- partition starts before it) and older than the compression delay, on the hour.
CREATE OR REPLACE FUNCTION _prom_catalog.rollup_horizon()
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT date_bin(interval '1 hour', least(
        (SELECT min(p.start_time) FROM _prom_catalog.compressed_partition p WHERE p.level = 1),
        (SELECT min(c.start_time) FROM _prom_catalog.sample_chunk c),
        now() - prom_api.get_compression_delay()), timestamptz '2000-01-01 00:00:00+00')
$$;
COMMENT ON FUNCTION _prom_catalog.rollup_horizon() IS 'Time before which all samples are compacted: rollups are computed up to it';
GRANT EXECUTE ON FUNCTION _prom_catalog.rollup_horizon() TO prom_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.compute_rollup_slice(
    start_us bigint, end_us bigint, from_series_id bigint, budget_seconds double precision)
RETURNS TABLE (series bigint, windows bigint, next_series_id bigint)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.rollup.compute")
stats = mod.compute_slice(plpy, start_us, end_us, from_series_id, budget_seconds)
return [(stats["series"], stats["windows"], stats["next"])]
$python$;
COMMENT ON FUNCTION _prom_catalog.compute_rollup_slice(bigint, bigint, bigint, double precision) IS
    'Computes the rollups of windows ending in (start, end] for some series; returns the series id to go on from (NULL: done)';

-- One maintenance step: rollups of the next slice (at most a day) of final samples, or of the
-- next series of the slice in progress, for about budget_seconds. Returns the windows written,
-- 0 when nothing is due, NULL when another session is at it.
CREATE OR REPLACE FUNCTION _prom_catalog.compute_rollups(budget_seconds double precision DEFAULT 2)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p _prom_catalog.rollup_progress;
    horizon timestamptz := _prom_catalog.rollup_horizon();
    r record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(1886547840, 0) THEN
        RETURN NULL;
    END IF;
    INSERT INTO _prom_catalog.rollup_progress (singleton) VALUES (true) ON CONFLICT DO NOTHING;
    SELECT * INTO p FROM _prom_catalog.rollup_progress FOR UPDATE;
    IF p.done_until IS NULL THEN
        -- first run: from the oldest stored sample on
        p.done_until := date_bin(interval '1 hour', (SELECT min(c.start_time) FROM _prom_catalog.compressed_partition c),
                                 timestamptz '2000-01-01 00:00:00+00');
        IF p.done_until IS NULL OR NOT isfinite(p.done_until) THEN
            RETURN 0;
        END IF;
    END IF;
    IF p.slice_end IS NULL THEN
        -- skip time without compressed samples (a stray sample from 1970 must not cost a slice
        -- per day since): on to the next partition holding rows after done_until
        p.done_until := greatest(p.done_until, date_bin(interval '1 hour',
            (SELECT min(c.start_time) FROM _prom_catalog.compressed_partition c WHERE c.end_time > p.done_until),
            timestamptz '2000-01-01 00:00:00+00'));
        IF horizon IS NULL OR p.done_until >= horizon THEN
            -- never past the horizon: samples may still come before the next partition
            UPDATE _prom_catalog.rollup_progress rp SET done_until = greatest(rp.done_until, least(p.done_until, horizon))
            WHERE rp.done_until IS DISTINCT FROM greatest(rp.done_until, least(p.done_until, horizon));
            RETURN 0;
        END IF;
        p.slice_end := least(p.done_until + interval '1 day', horizon);
        p.next_series := 0;
    END IF;
    SELECT * INTO r FROM _prom_catalog.compute_rollup_slice(
        _prom_catalog.timestamptz_to_us(p.done_until), _prom_catalog.timestamptz_to_us(p.slice_end),
        p.next_series, budget_seconds);
    IF r.next_series_id IS NULL THEN
        UPDATE _prom_catalog.rollup_progress SET done_until = p.slice_end, slice_end = NULL, next_series = NULL;
    ELSE
        UPDATE _prom_catalog.rollup_progress SET done_until = p.done_until, slice_end = p.slice_end, next_series = r.next_series_id;
    END IF;
    RETURN greatest(r.windows, 1);
END
$$;
COMMENT ON FUNCTION _prom_catalog.compute_rollups(double precision) IS
    'Computes rollups of the next slice of final samples; returns the windows written (0: nothing due, NULL: busy)';
GRANT EXECUTE ON FUNCTION _prom_catalog.compute_rollups(double precision) TO prom_maintenance, prom_admin;

-- How far rollups are computed (windows ending at or before this are stored).
CREATE OR REPLACE FUNCTION prom_api.get_rollups_done_until()
RETURNS timestamptz
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.done_until FROM _prom_catalog.rollup_progress p
$$;
COMMENT ON FUNCTION prom_api.get_rollups_done_until() IS 'The end of the last rollup window computed for every series';
GRANT EXECUTE ON FUNCTION prom_api.get_rollups_done_until() TO prom_reader;

-- Computes rollups again from a time on (samples written behind the rollups: a backfill, or
-- samples later than the compression delay): maintenance recomputes the windows ending after
-- it, replacing the stored ones, up to the final horizon again.
CREATE OR REPLACE FUNCTION prom_api.recompute_rollups(since timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start timestamptz := date_bin(interval '1 hour', since, timestamptz '2000-01-01 00:00:00+00');
BEGIN
    IF since IS NULL OR NOT isfinite(since) THEN
        RAISE EXCEPTION 'invalid time % for recompute_rollups: it must be a finite time', coalesce(since::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(1886547840, 0);  -- not while a step runs
    INSERT INTO _prom_catalog.rollup_progress (singleton) VALUES (true) ON CONFLICT DO NOTHING;
    UPDATE _prom_catalog.rollup_progress
    SET done_until = start, slice_end = NULL, next_series = NULL
    WHERE done_until IS NULL OR done_until > start;
    RETURN start;
END
$$;
COMMENT ON FUNCTION prom_api.recompute_rollups(timestamptz) IS
    'Makes maintenance compute rollups again from a time on (after a backfill); returns the hour it starts from';
GRANT EXECUTE ON FUNCTION prom_api.recompute_rollups(timestamptz) TO prom_admin;

-- Deletes rollup rows past their metric's rollup retention. Rows are found through the
-- (resolution_s, chunk_start) index below the shortest period in force, so a run with
-- nothing due reads nothing.
CREATE OR REPLACE FUNCTION _prom_catalog.apply_rollup_retention()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    res int;
    res_name text;
    period interval;
    shortest interval;
    n bigint;
    removed bigint := 0;
BEGIN
    FOREACH res IN ARRAY ARRAY[300, 3600] LOOP
        res_name := CASE res WHEN 300 THEN '5m' ELSE '1h' END;
        period := CASE res WHEN 300 THEN interval '1 day' ELSE interval '30 days' END;
        shortest := least(prom_api.get_default_rollup_retention_period(res_name),
                          (SELECT min(r.retention_period) FROM _prom_catalog.rollup_retention r WHERE r.resolution_s = res));
        -- rows of series deleted since (no series row) follow the default
        DELETE FROM prom_data.rollup d
        WHERE d.resolution_s = res
          AND d.chunk_start < now() - shortest - period
          AND d.chunk_start + period <= now() - coalesce(
              (SELECT rr.retention_period FROM _prom_catalog.series s
               JOIN _prom_catalog.rollup_retention rr ON rr.metric_id = s.metric_id AND rr.resolution_s = res
               WHERE s.id = d.series_id),
              prom_api.get_default_rollup_retention_period(res_name));
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
    END LOOP;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION _prom_catalog.apply_rollup_retention() IS
    'Deletes rollup rows whose whole period is past their metric''s rollup retention; returns the rows removed';
GRANT EXECUTE ON FUNCTION _prom_catalog.apply_rollup_retention() TO prom_maintenance, prom_admin;

-- The windows of a rollup block (prom_data.rollup.block, extension/promscale/rollup/block.py):
-- window ends and first/last sample times in microseconds since 2000-01-01, the aggregates as
-- float8 bit patterns (see _prom_catalog.float8_from_bits), every implied column filled in.
CREATE OR REPLACE FUNCTION _prom_catalog.decode_rollup_block(block bytea,
    OUT times bigint[], OUT first_times bigint[], OUT last_times bigint[], OUT counts bigint[], OUT sums bigint[],
    OUT mins bigint[], OUT maxs bigint[], OUT firsts bigint[], OUT lasts bigint[], OUT increases bigint[])
RETURNS record
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $python$
decode = SD.get("decode")
if decode is None:
    sources = {}  # promscale-embed: promscale.rollup
    loader = {"__name__": "promscale_embedded_loader"}
    exec(sources["promscale._loader"][1], loader)
    decode = SD["decode"] = loader["import_embedded"](sources, "promscale.rollup.block").decode_block
w = decode(block)
return [w[c].view("<i8").tolist() for c in ("ends", "first_times", "last_times", "counts", "sums", "mins", "maxs",
                                             "firsts", "lasts", "increases")]
$python$;
COMMENT ON FUNCTION _prom_catalog.decode_rollup_block(bytea) IS
    'Decodes a rollup row''s block: window ends and sample times (microseconds since 2000-01-01), '
    'aggregates as float8 bit patterns';
GRANT EXECUTE ON FUNCTION _prom_catalog.decode_rollup_block(bytea) TO prom_reader, prom_tenant_reader;

-- The rollup views of one metric: prom_rollup_5m.<metric> and prom_rollup_1h.<metric>, one row
-- per series per window, label columns last (new label keys append columns). Filter on
-- period_start (the stored row's period: a day for 5m, 30 days for 1h) as well as on time to
-- read only the rows of the range (docs/rollups.md).
CREATE OR REPLACE FUNCTION _prom_catalog.create_rollup_views(metric_id int)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m _prom_catalog.metric;
    res int;
    schema_name text;
BEGIN
    SELECT * INTO m FROM _prom_catalog.metric WHERE id = metric_id;
    FOREACH res IN ARRAY ARRAY[300, 3600] LOOP
        schema_name := CASE res WHEN 300 THEN 'prom_rollup_5m' ELSE 'prom_rollup_1h' END;
        EXECUTE format($view$
            CREATE OR REPLACE VIEW %1$I.%2$I WITH (security_barrier) AS
            SELECT _prom_catalog.timestamptz_from_us(x.t) AS time, r.series_id, %5$s AS labels, s.labels AS label_ids,
                   _prom_catalog.float8_from_bits(x.n)::bigint AS count,
                   _prom_catalog.float8_from_bits(x.su) AS sum,
                   _prom_catalog.float8_from_bits(x.mi) AS min,
                   _prom_catalog.float8_from_bits(x.ma) AS max,
                   _prom_catalog.float8_from_bits(x.fi) AS first,
                   _prom_catalog.float8_from_bits(x.la) AS last,
                   coalesce(_prom_catalog.float8_from_bits(x.inc),
                            _prom_catalog.float8_from_bits(x.la) - _prom_catalog.float8_from_bits(x.fi)) AS counter_increase,
                   _prom_catalog.timestamptz_from_us(x.ft) AS first_time,
                   _prom_catalog.timestamptz_from_us(x.lt) AS last_time,
                   r.chunk_start AS period_start %3$s
            FROM prom_data.rollup r
            -- a block row (0019) decodes in one call; rows written before hold a column per
            -- aggregate (NULL block: the function, STRICT, gives NULLs and coalesce reads them)
            LEFT JOIN LATERAL _prom_catalog.decode_rollup_block(r.block) b ON true
            CROSS JOIN LATERAL unnest(
                coalesce(b.times, _prom_catalog.decode_times(r.times)),
                coalesce(b.first_times, _prom_catalog.decode_times(r.first_times)),
                coalesce(b.last_times, _prom_catalog.decode_times(r.last_times)),
                coalesce(b.counts, _prom_catalog.decode_value_bits(r.counts)),
                coalesce(b.sums, _prom_catalog.decode_value_bits(r.sums)),
                coalesce(b.mins, _prom_catalog.decode_value_bits(
                    CASE WHEN octet_length(r.mins) = 0 THEN r.firsts ELSE r.mins END)),
                coalesce(b.maxs, _prom_catalog.decode_value_bits(
                    CASE WHEN octet_length(r.maxs) = 0 THEN r.lasts ELSE r.maxs END)),
                coalesce(b.firsts, _prom_catalog.decode_value_bits(r.firsts)),
                coalesce(b.lasts, _prom_catalog.decode_value_bits(r.lasts)),
                coalesce(b.increases,
                         CASE WHEN octet_length(r.increases) > 0 THEN _prom_catalog.decode_value_bits(r.increases) END))
                AS x(t, ft, lt, n, su, mi, ma, fi, la, inc)
            JOIN _prom_catalog.series s ON s.id = r.series_id
            WHERE r.resolution_s = %4$s AND %6$s
            $view$, schema_name, m.view_name, _prom_catalog.metric_label_columns(m.id, 's'), res,
            _prom_catalog.series_labels_sql('s'), _prom_catalog.visible_series_sql(m.id, 's'));
        EXECUTE format('COMMENT ON VIEW %I.%I IS %L', schema_name, m.view_name,
                       format('%s rollups of metric %s: one row per series per window ending at time',
                              CASE res WHEN 300 THEN '5-minute' ELSE '1-hour' END, m.metric_name));
        EXECUTE format('GRANT SELECT ON %I.%I TO prom_reader, prom_tenant_reader', schema_name, m.view_name);
    END LOOP;
END
$$;
COMMENT ON FUNCTION _prom_catalog.create_rollup_views(int) IS 'Creates or extends prom_rollup_5m.<metric> and prom_rollup_1h.<metric>';

-- Retention dropped every raw sample before dropped_end (a whole partition past the longest
-- retention in force): PromQL answers queries reaching before it from rollups.
CREATE OR REPLACE FUNCTION _prom_catalog.note_raw_dropped(dropped_end timestamptz)
RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _prom_catalog.rollup_progress AS p (singleton, raw_dropped_until) VALUES (true, dropped_end)
    ON CONFLICT (singleton) DO UPDATE SET raw_dropped_until = greatest(p.raw_dropped_until, excluded.raw_dropped_until)
$$;
COMMENT ON FUNCTION _prom_catalog.note_raw_dropped(timestamptz) IS
    'Records that retention removed every raw sample before a time (read by PromQL to use rollups there)';
