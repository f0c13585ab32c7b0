-- The Prometheus HTTP API's non-query endpoints as SQL: each returns the complete
-- response body (JSON text) so the connector only forwards it. Times are Unix seconds;
-- match[] selectors are PromQL series selectors. See docs/http-api.md.

-- /api/v1/series
CREATE OR REPLACE FUNCTION prom_api.series_json(
    match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT would compile a large catalog scan for ~200 ms (see docs/performance.md)
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.catalog_api")
return mod.series_json(plpy, GD, match or [], start_time, end_time, limit)
$python$;
COMMENT ON FUNCTION prom_api.series_json(text[], double precision, double precision, int) IS
    'Prometheus /api/v1/series response body: label sets of series matching any selector, active in [start, end]';
GRANT EXECUTE ON FUNCTION prom_api.series_json(text[], double precision, double precision, int)
    TO prom_reader, prom_tenant_reader;

-- /api/v1/labels
CREATE OR REPLACE FUNCTION prom_api.label_names_json(
    match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT would compile a large catalog scan for ~200 ms (see docs/performance.md)
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.catalog_api")
return mod.label_names_json(plpy, GD, match or [], start_time, end_time, limit)
$python$;
COMMENT ON FUNCTION prom_api.label_names_json(text[], double precision, double precision, int) IS
    'Prometheus /api/v1/labels response body: label names of series (matching any selector, if given) active in [start, end]';
GRANT EXECUTE ON FUNCTION prom_api.label_names_json(text[], double precision, double precision, int)
    TO prom_reader, prom_tenant_reader;

-- /api/v1/label/<name>/values
CREATE OR REPLACE FUNCTION prom_api.label_values_json(
    name text, match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT would compile a large catalog scan for ~200 ms (see docs/performance.md)
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.catalog_api")
return mod.label_values_json(plpy, GD, name, match or [], start_time, end_time, limit)
$python$;
COMMENT ON FUNCTION prom_api.label_values_json(text, text[], double precision, double precision, int) IS
    'Prometheus /api/v1/label/<name>/values response body: values of the label among series active in [start, end]';
GRANT EXECUTE ON FUNCTION prom_api.label_values_json(text, text[], double precision, double precision, int)
    TO prom_reader, prom_tenant_reader;

-- /api/v1/metadata
CREATE OR REPLACE FUNCTION prom_api.metadata_json(
    metric text DEFAULT NULL, "limit" int DEFAULT NULL, limit_per_metric int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT compiles each sample scan for ~200 ms (see docs/performance.md)
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.catalog_api")
return mod.metadata_json(plpy, metric, limit, limit_per_metric)
$python$;
COMMENT ON FUNCTION prom_api.metadata_json(text, int, int) IS
    'Prometheus /api/v1/metadata response body from the metadata received by remote_write';
GRANT EXECUTE ON FUNCTION prom_api.metadata_json(text, int, int) TO prom_reader, prom_tenant_reader;

-- /api/v1/query_exemplars
CREATE OR REPLACE FUNCTION prom_api.query_exemplars_json(
    query text, start_time double precision, end_time double precision)
RETURNS text
LANGUAGE plpython3u
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT compiles each sample scan for ~200 ms (see docs/performance.md)
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.exemplars_api")
return mod.query_exemplars_json(plpy, GD, query, start_time, end_time)
$python$;
COMMENT ON FUNCTION prom_api.query_exemplars_json(text, double precision, double precision) IS
    'Prometheus /api/v1/query_exemplars response body; NULL when the query has no selectors (HTTP 204)';
GRANT EXECUTE ON FUNCTION prom_api.query_exemplars_json(text, double precision, double precision)
    TO prom_reader, prom_tenant_reader;

-- The whole HTTP API request, as the connector receives it: "endpoint" is the path after
-- /api/v1/ ('query', 'query_range', 'label/job/values', ...), "form" the request's parameters
-- as received (name -> array of strings, as Go's r.Form), "settings" the connector's flags a
-- query needs ({"subquery_step": seconds}). Every check, conversion and message is
-- Prometheus 2.42's (promscale.httpapi.params); the answer is the HTTP status and the complete
-- body (NULL: no content), errors included. See docs/http-api.md.
-- The body leaves PL/Python as UTF-8 bytes and becomes text in C (_prom_catalog.utf8_text): a
-- range query's body can be tens of megabytes, which PL/Python's conversion of a str copies four times.
CREATE OR REPLACE FUNCTION _prom_catalog.http_api_utf8(endpoint text, form jsonb, settings jsonb,
                                                       OUT status int, OUT body bytea)
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
import json
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.endpoints")
status, body = mod.http_api(plpy, GD, endpoint, json.loads(form), json.loads(settings or "{}"))
return status, body.encode() if isinstance(body, str) else body
$python$;
COMMENT ON FUNCTION _prom_catalog.http_api_utf8(text, jsonb, jsonb) IS
    'prom_api.http_api''s answer, the body as UTF-8 bytes';

CREATE OR REPLACE FUNCTION prom_api.http_api(endpoint text, form jsonb, settings jsonb DEFAULT '{}',
                                             OUT status int, OUT body text)
LANGUAGE plpgsql  -- not sql: a SQL function's result passes through a tuplestore, which spills a large body to disk
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT would compile each catalog or sample scan for ~200 ms (see docs/performance.md)
AS $$
DECLARE
    utf8 bytea;
BEGIN
    SELECT a.status, a.body INTO status, utf8 FROM _prom_catalog.http_api_utf8(endpoint, form, settings) a;
    body := _prom_catalog.utf8_text(utf8);
END
$$;
COMMENT ON FUNCTION prom_api.http_api(text, jsonb, jsonb) IS
    'One Prometheus HTTP API v1 request (endpoint: the path after /api/v1/; form: its parameters as received): the HTTP status and response body';
GRANT EXECUTE ON FUNCTION prom_api.http_api(text, jsonb, jsonb) TO prom_reader, prom_tenant_reader;

-- The admin endpoints (admin/tsdb/delete_series): they write, so not STABLE; what they call needs prom_admin.
CREATE OR REPLACE FUNCTION prom_api.http_admin_api(endpoint text, form jsonb, OUT status int, OUT body text)
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
import json
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.httpapi.endpoints")
status, body = mod.http_api(plpy, GD, endpoint, json.loads(form), {}, admin=True)
return status, body.decode() if isinstance(body, bytes) else body
$python$;
COMMENT ON FUNCTION prom_api.http_admin_api(text, jsonb) IS
    'One request of the Prometheus admin API (admin/tsdb/delete_series): the HTTP status and response body (NULL: none)';
-- delete_series itself is prom_admin's: a reader calling this is answered what to grant
GRANT EXECUTE ON FUNCTION prom_api.http_admin_api(text, jsonb) TO prom_reader;

-- The statement_timeout of a query request: its "timeout" parameter (Prometheus's duration
-- syntax) bounded by max_ms (the connector's --query-timeout), at least 1 ms; max_ms when the
-- parameter is absent or bad (the request then answers the parameter's error). The connector
-- sets it in the request's transaction, in the same round trip as the request.
CREATE OR REPLACE FUNCTION _prom_catalog.http_statement_timeout(timeout text, max_ms bigint)
RETURNS text
LANGUAGE plpython3u
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return str(GD["promscale"].module(plpy, "promscale.httpapi.params").statement_timeout_ms(timeout, max_ms))
$python$;
COMMENT ON FUNCTION _prom_catalog.http_statement_timeout(text, bigint) IS
    'statement_timeout in ms for a query''s timeout parameter, bounded by max_ms';
GRANT EXECUTE ON FUNCTION _prom_catalog.http_statement_timeout(text, bigint) TO prom_reader;
