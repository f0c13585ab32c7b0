-- PromQL: the engine lives in extension/promscale/promql/ (lexer, parser, printer, engine).
-- Times cross the SQL/Python boundary as Unix seconds (float8); the engine works in ms.

-- Maximum samples a query may hold in memory (Prometheus's --query.max-samples).
CREATE OR REPLACE FUNCTION prom_api.get_promql_max_samples()
RETURNS bigint
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(_ps_catalog.get_setting('promql_max_samples')::bigint, 50000000)
$$;
COMMENT ON FUNCTION prom_api.get_promql_max_samples() IS
    'Maximum number of samples a PromQL query may load (default 50,000,000 as in Prometheus)';
GRANT EXECUTE ON FUNCTION prom_api.get_promql_max_samples() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_promql_max_samples(max_samples bigint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_int_setting('promql_max_samples', max_samples, 1);
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_promql_max_samples(bigint) IS
    'Sets the maximum number of samples a PromQL query may load; larger queries fail as in Prometheus';
GRANT EXECUTE ON FUNCTION prom_api.set_promql_max_samples(bigint) TO prom_admin;

-- The step of subqueries that name none (`x[5m:]`): Prometheus uses its evaluation_interval
-- (1 minute unless configured; its shipped prometheus.yml sets 15 seconds). Queries may give
-- their own (the subquery_step arguments below, the connector's --promql-default-subquery-step).
CREATE OR REPLACE FUNCTION prom_api.get_promql_default_subquery_step()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('promql_default_subquery_step', interval '1 minute')
$$;
COMMENT ON FUNCTION prom_api.get_promql_default_subquery_step() IS
    'Step of PromQL subqueries that name none, when the query gives no default (1 minute unless set)';
GRANT EXECUTE ON FUNCTION prom_api.get_promql_default_subquery_step() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_promql_default_subquery_step(step interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('promql_default_subquery_step', step, interval '1 millisecond');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_promql_default_subquery_step(interval) IS
    'Sets the step of PromQL subqueries that name none (Prometheus''s evaluation_interval)';
GRANT EXECUTE ON FUNCTION prom_api.set_promql_default_subquery_step(interval) TO prom_admin;

-- Rows of an instant (step 0) or range query; Python does the work. An error comes back as
-- a single row with error/sqlstate set, for the plpgsql wrappers to raise with Prometheus's
-- exact text (PL/Python's own errors carry a "plpy.Error: " prefix).
DROP FUNCTION IF EXISTS _prom_catalog.promql_rows(text, float8, float8, float8, boolean);  -- gained subquery_step_s
CREATE OR REPLACE FUNCTION _prom_catalog.promql_rows(query text, start_s float8, end_s float8, step_s float8,
                                                     range_query boolean, subquery_step_s float8)
RETURNS TABLE (labels text, t float8, value float8, error text, sqlstate text)
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
api = GD["promscale"].module(plpy, "promscale.promql.api")
start_ms = api.seconds_to_ms(start_s)
end_ms = api.seconds_to_ms(end_s)
step_ms = int(round(step_s * 1000)) if step_s else 0
return api.query_rows(plpy, GD, query, start_ms, end_ms, step_ms, range_query, subquery_step_s)
$python$;
COMMENT ON FUNCTION _prom_catalog.promql_rows(text, float8, float8, float8, boolean, float8) IS
    'PromQL evaluation as (labels JSON text, Unix seconds, value) rows, or one row carrying the error';
GRANT EXECUTE ON FUNCTION _prom_catalog.promql_rows(text, float8, float8, float8, boolean, float8)
    TO prom_reader;

DROP FUNCTION IF EXISTS _prom_catalog.promql_query(text, float8, float8, float8, boolean);  -- gained subquery_step_s
CREATE OR REPLACE FUNCTION _prom_catalog.promql_query(query text, start_s float8, end_s float8, step_s float8,
                                                      range_query boolean, subquery_step_s float8)
RETURNS TABLE (labels jsonb, "time" timestamptz, value float8)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM _prom_catalog.promql_rows(query, start_s, end_s, step_s, range_query, subquery_step_s) LOOP
        IF r.error IS NOT NULL THEN
            RAISE EXCEPTION USING MESSAGE = r.error, ERRCODE = r.sqlstate;
        END IF;
        labels := r.labels::jsonb;
        "time" := to_timestamp(r.t);
        value := r.value;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION _prom_catalog.promql_query(text, float8, float8, float8, boolean, float8) IS
    'PromQL evaluation as rows; errors raised with Prometheus''s message';
GRANT EXECUTE ON FUNCTION _prom_catalog.promql_query(text, float8, float8, float8, boolean, float8)
    TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.query(query text, "time" timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (labels jsonb, "time" timestamptz, value float8)
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM _prom_catalog.promql_query(query, extract(epoch FROM "time")::float8,
                                             extract(epoch FROM "time")::float8, 0, false, NULL)
$$;
COMMENT ON FUNCTION prom_api.query(text, timestamptz) IS
    'Evaluates a PromQL instant query at the given time; one row per result sample (errors are Prometheus''s messages)';
GRANT EXECUTE ON FUNCTION prom_api.query(text, timestamptz) TO prom_reader, prom_tenant_reader;

-- The same with the step of subqueries that name none (an overload: adding an argument to the
-- function above would mean dropping it, and with it any view of a user that calls it).
CREATE OR REPLACE FUNCTION prom_api.query(query text, "time" timestamptz, subquery_step interval)
RETURNS TABLE (labels jsonb, "time" timestamptz, value float8)
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM _prom_catalog.promql_query(query, extract(epoch FROM "time")::float8,
                                             extract(epoch FROM "time")::float8, 0, false,
                                             extract(epoch FROM subquery_step)::float8)
$$;
COMMENT ON FUNCTION prom_api.query(text, timestamptz, interval) IS
    'Evaluates a PromQL instant query at the given time, subqueries without a step using subquery_step';
GRANT EXECUTE ON FUNCTION prom_api.query(text, timestamptz, interval) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.query_range(query text, start timestamptz, "end" timestamptz, step interval)
RETURNS TABLE (labels jsonb, "time" timestamptz, value float8)
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM _prom_catalog.promql_query(query, extract(epoch FROM start)::float8,
                                             extract(epoch FROM "end")::float8,
                                             extract(epoch FROM step)::float8, true, NULL)
$$;
COMMENT ON FUNCTION prom_api.query_range(text, timestamptz, timestamptz, interval) IS
    'Evaluates a PromQL range query from start to end every step; one row per result sample, series in label order';
GRANT EXECUTE ON FUNCTION prom_api.query_range(text, timestamptz, timestamptz, interval) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.query_range(query text, start timestamptz, "end" timestamptz, step interval,
                                                subquery_step interval)
RETURNS TABLE (labels jsonb, "time" timestamptz, value float8)
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM _prom_catalog.promql_query(query, extract(epoch FROM start)::float8,
                                             extract(epoch FROM "end")::float8,
                                             extract(epoch FROM step)::float8, true,
                                             extract(epoch FROM subquery_step)::float8)
$$;
COMMENT ON FUNCTION prom_api.query_range(text, timestamptz, timestamptz, interval, interval) IS
    'Evaluates a PromQL range query every step, subqueries without a step using subquery_step';
GRANT EXECUTE ON FUNCTION prom_api.query_range(text, timestamptz, timestamptz, interval, interval)
    TO prom_reader, prom_tenant_reader;

-- query_json and query_range_json, for SQL callers (the connector calls prom_api.http_api,
-- 210-http-api.sql). One body each, the overload with every argument; the shorter ones of
-- earlier releases are SQL wrappers of it, kept because a user's view may call them (dropping
-- them would fail the upgrade). A new HTTP parameter goes into http_api's form, not an overload.
CREATE OR REPLACE FUNCTION prom_api.query_json(query text, "time" float8, timeout text DEFAULT NULL,
                                               lookback_delta float8 DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.query_json(query, "time", timeout, lookback_delta, NULL::float8, NULL::text)
$$;
COMMENT ON FUNCTION prom_api.query_json(text, float8, text, float8) IS
    'PromQL instant query at Unix time (seconds); returns the complete Prometheus /api/v1/query response body, errors included';
GRANT EXECUTE ON FUNCTION prom_api.query_json(text, float8, text, float8) TO prom_reader, prom_tenant_reader;

-- With the step (seconds) of subqueries that name none; NULL: prom_api.get_promql_default_subquery_step()
CREATE OR REPLACE FUNCTION prom_api.query_json(query text, "time" float8, timeout text, lookback_delta float8,
                                               subquery_step float8)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.query_json(query, "time", timeout, lookback_delta, subquery_step, NULL::text)
$$;
COMMENT ON FUNCTION prom_api.query_json(text, float8, text, float8, float8) IS
    'PromQL instant query at Unix time (seconds), subqueries without a step using subquery_step seconds; the /api/v1/query response body';
GRANT EXECUTE ON FUNCTION prom_api.query_json(text, float8, text, float8, float8) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.query_range_json(query text, start float8, "end" float8, step float8,
                                                     timeout text DEFAULT NULL, lookback_delta float8 DEFAULT NULL)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.query_range_json(query, start, "end", step, timeout, lookback_delta, NULL::float8, NULL::text)
$$;
COMMENT ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8) IS
    'PromQL range query (Unix seconds, step in seconds); returns the complete Prometheus /api/v1/query_range response body';
GRANT EXECUTE ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8)
    TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.query_range_json(query text, start float8, "end" float8, step float8,
                                                     timeout text, lookback_delta float8, subquery_step float8)
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.query_range_json(query, start, "end", step, timeout, lookback_delta, subquery_step, NULL::text)
$$;
COMMENT ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8, float8) IS
    'PromQL range query, subqueries without a step using subquery_step seconds; the /api/v1/query_range response body';
GRANT EXECUTE ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8, float8)
    TO prom_reader, prom_tenant_reader;

-- With max_source_resolution ('raw', '5m', '1h', 'auto'; NULL: raw samples, rollups only
-- where retention removed them): docs/rollups.md. The response carries a warning naming the
-- rollups used.
CREATE OR REPLACE FUNCTION prom_api.query_json(query text, "time" float8, timeout text, lookback_delta float8,
                                               subquery_step float8, max_source_resolution text)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
api = GD["promscale"].module(plpy, "promscale.promql.api")
return api.query_json(plpy, GD, query, time, timeout, lookback_delta, subquery_step, max_source_resolution)
$python$;
COMMENT ON FUNCTION prom_api.query_json(text, float8, text, float8, float8, text) IS
    'PromQL instant query, reading raw samples or rollups (max_source_resolution raw, 5m, 1h or auto); the /api/v1/query response body';
GRANT EXECUTE ON FUNCTION prom_api.query_json(text, float8, text, float8, float8, text) TO prom_reader, prom_tenant_reader;

-- A range query's body can be tens of megabytes (a month of hourly steps over 1,000 series: 24
-- MB): it leaves PL/Python as UTF-8 bytes and becomes text in C (utf8_text, 035-planner-library.sql),
-- not through PL/Python's copies of a returned str (~40 ms for 24 MB).
CREATE OR REPLACE FUNCTION _prom_catalog.promql_range_body(query text, start float8, "end" float8, step float8,
                                                           timeout text, lookback_delta float8, subquery_step float8,
                                                           max_source_resolution text)
RETURNS bytea
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
api = GD["promscale"].module(plpy, "promscale.promql.api")
return api.query_range_json(plpy, GD, query, start, end, step, timeout, lookback_delta, subquery_step,
                            max_source_resolution)
$python$;
COMMENT ON FUNCTION _prom_catalog.promql_range_body(text, float8, float8, float8, text, float8, float8, text) IS
    'prom_api.query_range_json''s body as UTF-8 bytes';

CREATE OR REPLACE FUNCTION prom_api.query_range_json(query text, start float8, "end" float8, step float8,
                                                     timeout text, lookback_delta float8, subquery_step float8,
                                                     max_source_resolution text)
RETURNS text
LANGUAGE plpgsql  -- not sql: a SQL function's result passes through a tuplestore, which spills 24 MB to disk
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
BEGIN
    RETURN _prom_catalog.utf8_text(_prom_catalog.promql_range_body(query, start, "end", step, timeout,
                                                                   lookback_delta, subquery_step, max_source_resolution));
END
$$;
COMMENT ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8, float8, text) IS
    'PromQL range query, reading raw samples or rollups (max_source_resolution raw, 5m, 1h or auto); the /api/v1/query_range response body';
GRANT EXECUTE ON FUNCTION prom_api.query_range_json(text, float8, float8, float8, text, float8, float8, text)
    TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.promql_format(query text)
RETURNS text[]
LANGUAGE plpython3u
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.promql.api").format_query_or_error(query)
$python$;
COMMENT ON FUNCTION _prom_catalog.promql_format(text) IS
    'Formatted query, or NULL with the parse error and its SQLSTATE';
GRANT EXECUTE ON FUNCTION _prom_catalog.promql_format(text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.format_query(query text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r text[];
BEGIN
    r := _prom_catalog.promql_format(query);
    IF r[2] IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = r[2], ERRCODE = r[3];
    END IF;
    RETURN r[1];
END
$$;
COMMENT ON FUNCTION prom_api.format_query(text) IS
    'The query formatted as Prometheus 2.42''s /api/v1/format_query does; a parse error raises Prometheus''s message';
GRANT EXECUTE ON FUNCTION prom_api.format_query(text) TO prom_reader, prom_tenant_reader;
