-- Multitenancy (docs/operations.md "Two teams on one installation"): a series of a tenant
-- carries the label __tenant__=<tenant>; what a transaction may see is decided by
-- _prom_catalog.visible_tenants() (sql/idempotent/012-tenancy.sql) from these grants and the
-- request's tenant.

-- Tenants whose data a role (and every role that is a member of it) may see; a role with
-- grants sees those tenants only, whatever else it may read. Roles by name, so that grants
-- survive pg_dump and restore (role oids do not).
CREATE TABLE _prom_catalog.tenant_grant (
    role_name name NOT NULL,
    tenant text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role_name, tenant)
);
COMMENT ON TABLE _prom_catalog.tenant_grant IS
    'Tenants each role may see (prom_api.grant_tenant / revoke_tenant); a role with grants sees only them';
GRANT SELECT ON TABLE _prom_catalog.tenant_grant TO prom_reader;
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.tenant_grant', '');

-- Analysts of one tenant: the views and query functions, never the catalog tables (which hold
-- every tenant's series). prom_api.grant_tenant makes a role a member.
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_tenant_reader') THEN
    CREATE ROLE prom_tenant_reader NOLOGIN;
END IF;
-- the rollup views' schemas, made by 0014 before this role existed (the schemas of released
-- migrations are granted by their idempotent owner files, which run after every migration)
GRANT USAGE ON SCHEMA prom_rollup_5m, prom_rollup_1h TO prom_tenant_reader;

-- Metadata (HELP, TYPE, UNIT) belongs to the tenant that sent it ('' = no tenant): two tenants
-- may describe the same metric family differently, and neither may read the other's text.
ALTER TABLE _prom_catalog.metadata ADD COLUMN tenant text NOT NULL DEFAULT '';
DROP INDEX _prom_catalog.metadata_identity;
CREATE UNIQUE INDEX metadata_identity ON _prom_catalog.metadata (tenant, metric_family, type, unit, pg_catalog.md5(help));

-- Views made before multitenancy lack the visibility filter, and an extension script may not
-- replace them (they are not members of the extension): maintenance makes them again
-- (prom_api.refresh_metric_views). Until then only prom_reader, which reads every tenant's
-- tables anyway, may select from them: prom_tenant_reader is granted each view as it is made.
UPDATE _prom_catalog.metric SET views_stale = true;
