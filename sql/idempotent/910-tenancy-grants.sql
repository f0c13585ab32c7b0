-- Multitenancy's grants (sql/idempotent/012-tenancy.sql): every reader evaluates visibility;
-- only administrators grant tenants.

-- Analysts of a tenant (prom_tenant_reader, given by prom_api.grant_tenant): the schemas whose
-- views and functions they use; USAGE of a schema grants none of its tables.
GRANT USAGE ON SCHEMA _ps_catalog, _prom_catalog, prom_api, prom_metric, prom_series TO prom_tenant_reader;
GRANT EXECUTE ON FUNCTION
    _prom_catalog.is_valid_tenant_name(text),
    _prom_catalog.check_tenant_name(text),
    _prom_catalog.calling_role(),
    _prom_catalog.granted_tenants(name),
    _prom_catalog.request_tenant(),
    _prom_catalog.visible_tenants(),
    _prom_catalog.tenant_label_filter(text[]),
    _prom_catalog.visible_label_filter(),
    _prom_catalog.labels_visible(int[], int[], int[]),
    prom_api.set_request_tenant(text, boolean)
TO prom_reader, prom_tenant_reader;

GRANT EXECUTE ON FUNCTION
    prom_api.grant_tenant(name, text),
    prom_api.revoke_tenant(name, text)
TO prom_admin;
