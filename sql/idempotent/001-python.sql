-- PL/Python runtime: imports this version's modules from _ps_catalog.python_module.

-- Privileges on the tables and schemas this file owns. They are created by sql/bootstrap.sql, which
-- runs before the roles exist: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA _ps_catalog TO prom_reader, prom_tenant_reader;
GRANT SELECT ON TABLE _ps_catalog.migration TO prom_reader;
GRANT SELECT ON TABLE _ps_catalog.python_module TO prom_reader;
-- the extension's own source, no tenant's data: PL/Python functions an analyst of one tenant calls
-- as itself (the trace views' unpack functions) load their modules from it
GRANT SELECT ON TABLE _ps_catalog.python_module TO prom_tenant_reader;

-- Install the module finder in this session (extension/promscale/_loader.py).
CREATE OR REPLACE FUNCTION _ps_catalog.python_bootstrap()
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
rows = plpy.execute("SELECT source FROM _ps_catalog.python_module WHERE name = 'promscale._loader'")
if not rows:
    plpy.error("promscale: module promscale._loader is missing; reinstall the extension")
namespace = {"__name__": "promscale_bootstrap"}
exec(compile(rows[0]["source"], "<promscale>/promscale/_loader.py", "exec"), namespace)
return namespace["install"](plpy, GD).loaded_version
$python$;
COMMENT ON FUNCTION _ps_catalog.python_bootstrap() IS
    'Loads the promscale PL/Python modules of the installed version into this session; returns their version';
GRANT EXECUTE ON FUNCTION _ps_catalog.python_bootstrap() TO prom_reader, prom_tenant_reader;

-- The version of the PL/Python modules this session runs (loading them if needed).
CREATE OR REPLACE FUNCTION prom_api.python_version()
RETURNS text
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale").__version__
$python$;
COMMENT ON FUNCTION prom_api.python_version() IS
    'Version of the promscale PL/Python modules running in this session; equals the extension version';
GRANT EXECUTE ON FUNCTION prom_api.python_version() TO prom_reader, prom_tenant_reader;

-- Loads what a session's first ingest or query request would otherwise load (NumPy and the
-- modules of series creation, PromQL, the HTTP API's lookups and the read path: ~150 ms of CPU
-- per session), so that a client can pay it when it opens a connection rather than on its first
-- request. The connector calls it on the connections it opens at start (pyconnector/db.py).
-- Returns the version of the modules loaded.
CREATE OR REPLACE FUNCTION prom_api.warm_session()
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
runtime = GD["promscale"]
for name in ("promscale.catalog.series", "promscale.promql.api", "promscale.httpapi.catalog_api",
             "promscale.lifecycle.read"):
    runtime.module(plpy, name)
return runtime.loaded_version
$python$;
COMMENT ON FUNCTION prom_api.warm_session() IS
    'Loads the PL/Python modules of ingest and queries into this session (what its first request would pay); returns their version';
GRANT EXECUTE ON FUNCTION prom_api.warm_session() TO prom_reader;
