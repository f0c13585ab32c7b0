-- Default deny. PostgreSQL lets PUBLIC execute every function and procedure it creates; none of
-- the extension's may be, so this takes EXECUTE back from PUBLIC in every schema of the extension.
-- It is the one privilege statement that cannot sit next to a definition: it must run after all
-- of them (a function created later would be PUBLIC's again), and it covers the internal
-- functions that no role is granted. Each object's own grants follow its definition
-- (docs/development.md, "Privileges"); the build checks that every schema is listed here.
-- (ALL FUNCTIONS does not include procedures.)
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA
    _ps_catalog, _prom_catalog, prom_data, prom_api, prom_metric, prom_series, prom_info,
    prom_rollup_5m, prom_rollup_1h, _ps_trace, ps_trace
FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA
    _ps_catalog, _prom_catalog, prom_data, prom_api, prom_metric, prom_series, prom_info,
    prom_rollup_5m, prom_rollup_1h, _ps_trace, ps_trace
FROM PUBLIC;
-- PUBLIC has no privilege on a new sequence: this changes no right, it writes the sequences' ACL
-- out as 0.1.0 did (it revoked the same), so that fresh and upgraded installs have equal catalogs.
REVOKE ALL ON ALL SEQUENCES IN SCHEMA
    _ps_catalog, _prom_catalog, prom_data, prom_api, prom_metric, prom_series, prom_info,
    prom_rollup_5m, prom_rollup_1h, _ps_trace, ps_trace
FROM PUBLIC;
