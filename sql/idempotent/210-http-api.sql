-- The Prometheus HTTP API's non-query endpoints as SQL: each returns the complete
-- response body (JSON text) so the connector only forwards it. Times are Unix seconds;
-- match[] selectors are PromQL series selectors. See docs/http-api.md.

-- /api/v1/series
CREATE OR REPLACE FUNCTION prom_api.series_json(
    match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
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
    TO prom_reader;

-- /api/v1/labels
CREATE OR REPLACE FUNCTION prom_api.label_names_json(
    match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
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
    TO prom_reader;

-- /api/v1/label/<name>/values
CREATE OR REPLACE FUNCTION prom_api.label_values_json(
    name text, match text[], start_time double precision, end_time double precision, "limit" int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
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
    TO prom_reader;

-- /api/v1/metadata
CREATE OR REPLACE FUNCTION prom_api.metadata_json(
    metric text DEFAULT NULL, "limit" int DEFAULT NULL, limit_per_metric int DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
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
GRANT EXECUTE ON FUNCTION prom_api.metadata_json(text, int, int) TO prom_reader;

-- /api/v1/query_exemplars
CREATE OR REPLACE FUNCTION prom_api.query_exemplars_json(
    query text, start_time double precision, end_time double precision)
RETURNS text
LANGUAGE plpython3u
STABLE
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
    TO prom_reader;
