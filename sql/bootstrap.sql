-- Bootstrap: the two tables every later part of the script relies on.
-- Idempotent on purpose: this runs at install and at every upgrade.
CREATE SCHEMA IF NOT EXISTS _ps_catalog;
COMMENT ON SCHEMA _ps_catalog IS 'Promscale installation catalog: applied migrations, PL/Python modules, settings';

CREATE TABLE IF NOT EXISTS _ps_catalog.migration (
    name text PRIMARY KEY,
    applied_at_version text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE _ps_catalog.migration IS 'Run-once migrations (sql/migrations) already applied to this database';

CREATE TABLE IF NOT EXISTS _ps_catalog.python_module (
    name text PRIMARY KEY,
    is_package boolean NOT NULL,
    source text NOT NULL
);
COMMENT ON TABLE _ps_catalog.python_module IS
    'Source of the PL/Python modules of the installed version, imported by _ps_catalog.python_bootstrap()';
