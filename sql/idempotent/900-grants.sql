-- Least privilege: nothing for PUBLIC; each role gets what its job needs.
-- prom_reader ⊂ prom_writer ⊂ prom_modifier ⊂ prom_admin (role membership, sql/migrations/0001-roles.sql).

REVOKE ALL ON ALL TABLES IN SCHEMA _ps_catalog, _prom_catalog, prom_data, prom_api, prom_info FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _ps_catalog, _prom_catalog, prom_data, prom_api, prom_info FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA _ps_catalog, _prom_catalog, prom_data, prom_api, prom_info FROM PUBLIC;  -- not in ALL FUNCTIONS
REVOKE ALL ON ALL SEQUENCES IN SCHEMA _ps_catalog, _prom_catalog, prom_data FROM PUBLIC;

-- Readers: query everything metric-related; run the PL/Python runtime.
GRANT USAGE ON SCHEMA _ps_catalog, _prom_catalog, prom_data, prom_api, prom_metric, prom_series, prom_info TO prom_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA _prom_catalog, prom_data, prom_info, prom_metric, prom_series TO prom_reader;
GRANT SELECT ON _ps_catalog.setting, _ps_catalog.migration, _ps_catalog.python_module TO prom_reader;
GRANT EXECUTE ON FUNCTION
    _ps_catalog.python_bootstrap(),
    _ps_catalog.get_setting(text),
    prom_api.python_version(),
    prom_api.warm_session(),
    prom_api.get_default_chunk_interval(),
    prom_api.get_max_new_chunks_per_write(),
    prom_api.jsonb(int[]),
    prom_api.val(int),
    prom_api.key(int),
    prom_api.labels(bigint),
    prom_api.label_eq(text, text),
    prom_api.label_re(text, text),
    prom_api.label_ne(text, text),
    prom_api.label_nre(text, text),
    _prom_catalog.matcher_label_ids(text, text, boolean),
    prom_api.label_ids_match(int[], prom_api.matcher_positive),
    prom_api.label_ids_match(int[], prom_api.matcher_negative),
    prom_api.labels_match(jsonb, prom_api.matcher_positive),
    prom_api.labels_match(jsonb, prom_api.matcher_negative),
    _prom_catalog.identifier_for(text),
    _prom_catalog.identifier_for(text, int),
    _prom_catalog.byte_prefix(text, int),
    _prom_catalog.column_name_for(text),
    _prom_catalog.column_name_for(text, int),
    prom_api.get_samples(bigint[], timestamptz, timestamptz)
TO prom_reader;

-- Writers: ingest through the SECURITY DEFINER put_* and series functions only.
GRANT EXECUTE ON FUNCTION
    prom_api.get_or_create_series_ids(int[], text[], text[]),
    prom_api.get_or_create_series_ids(bytea[]),
    prom_api.get_or_create_series_ids_with_activity(bytea[], timestamptz[], timestamptz[]),
    prom_api.get_or_create_series_id(jsonb),
    prom_api.put_samples(bigint[], timestamptz[], double precision[]),
    prom_api.prepare_sample_chunks(timestamptz[], int),
    prom_api.put_exemplars(bigint[], timestamptz[], double precision[], jsonb[]),
    prom_api.put_metadata(text[], text[], text[], text[])
TO prom_writer;

-- Admins: configuration.
GRANT EXECUTE ON FUNCTION
    prom_api.set_default_chunk_interval(interval),
    prom_api.set_max_new_chunks_per_write(int),
    prom_api.refresh_metric_views(boolean)
TO prom_admin;
