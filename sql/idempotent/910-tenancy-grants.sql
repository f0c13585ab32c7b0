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
GRANT USAGE ON SCHEMA prom_rollup_5m, prom_rollup_1h TO prom_tenant_reader;

-- What the views compute per row runs with the querying role's rights (a view reads its tables
-- with its owner's): the decoders of compressed samples and rollups.
GRANT EXECUTE ON FUNCTION
    _ps_catalog.python_bootstrap(),
    prom_api.python_version(),
    _prom_catalog.timestamptz_from_us(bigint),
    _prom_catalog.float8_from_bits(bigint),
    _prom_catalog.decode_times(bytea),
    _prom_catalog.decode_value_bits(bytea)
TO prom_tenant_reader;

-- The query functions an analyst of a tenant calls. They read the catalog, which such an
-- analyst may not, so they run with the extension owner's rights (SECURITY DEFINER, each with
-- its fixed search_path) and see what _prom_catalog.visible_tenants() allows the caller
-- (_prom_catalog.calling_role(): the caller, not the owner). By name, whatever their
-- signatures: every overload is covered.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'prom_api'::regnamespace
          AND p.proname IN ('query', 'query_range', 'query_json', 'query_range_json', 'format_query',
                            'series_json', 'label_names_json', 'label_values_json', 'metadata_json',
                            'query_exemplars_json', 'get_matching_samples')
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY DEFINER', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO prom_tenant_reader', f);
    END LOOP;
END
$$;
