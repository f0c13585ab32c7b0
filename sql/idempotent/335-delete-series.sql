-- Deleting series' samples in a time range, on the head and both compressed levels
-- (extension/promscale/lifecycle/delete.py; the HTTP API's /api/v1/admin/tsdb/delete_series).

CREATE OR REPLACE FUNCTION prom_api.delete_series(
    matchers text, start_time timestamptz DEFAULT '-infinity', end_time timestamptz DEFAULT 'infinity')
RETURNS bigint
LANGUAGE plpython3u
VOLATILE
SECURITY DEFINER  -- admins need no rights on the sample tables; EXECUTE is granted to prom_admin only
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'  -- a flush or compaction of the range holds its bucket for seconds at most
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.delete")
if matchers is None or start_time is None or end_time is None:
    plpy.error("delete_series needs matchers, a start time and an end time (NULL given)", sqlstate="22004")
bounds = plpy.execute(plpy.prepare(
    "SELECT _prom_catalog.timestamptz_to_us($1) AS lo, _prom_catalog.timestamptz_to_us($2) AS hi, "
    "(extract(epoch FROM prom_api.get_compressed_chunk_interval()) * 1000000)::bigint AS bucket",
    ["timestamptz", "timestamptz"]), [start_time, end_time])[0]
try:
    return mod.delete_series(plpy, GD, matchers, bounds["lo"], bounds["hi"], bounds["bucket"])
except mod.InvalidDeletion as exc:
    plpy.error(str(exc), sqlstate="22023")
$python$;
COMMENT ON FUNCTION prom_api.delete_series(text, timestamptz, timestamptz) IS
    'Deletes the samples in [start_time, end_time] of the series a PromQL series selector matches (e.g. ''up{job="a"}''); returns how many were deleted';
GRANT EXECUTE ON FUNCTION prom_api.delete_series(text, timestamptz, timestamptz) TO prom_admin;
