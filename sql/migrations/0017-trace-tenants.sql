-- Multitenancy for traces (docs/traces.md "Tenants"): every span, event, link, packed row and
-- operation belongs to a tenant ('' = no tenant, what every row stored before this migration
-- gets). Spans of tenant T also carry the resource attribute __tenant__=T. Readers see the rows
-- of _prom_catalog.visible_tenants() only (sql/idempotent/012-tenancy.sql), as for series.
-- Adding a column with a constant default rewrites no table.
ALTER TABLE _ps_trace.span ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE _ps_trace.event ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE _ps_trace.link ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE _ps_trace.span_packed ADD COLUMN tenant text NOT NULL DEFAULT '';

-- Operations per tenant: two tenants with the same service and span names get two ids, so a
-- search by operation id (the (operation_id, start_time) index) reads one tenant's spans only.
ALTER TABLE _ps_trace.operation ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE _ps_trace.operation DROP CONSTRAINT operation_service_name_span_name_span_kind_key;
ALTER TABLE _ps_trace.operation ADD CONSTRAINT operation_identity UNIQUE (tenant, service_name, span_name, span_kind);

-- A span's key includes its tenant: two tenants may send the same trace and span ids, and a
-- retried export of one must not make the other's span a duplicate. The key's index serves
-- `trace_id = x AND tenant = y` reads. Partitions of packed chunks are (nearly) empty: the
-- rebuild costs what the unpacked row partitions hold.
DECLARE
    chunk_id bigint;
BEGIN
    FOR chunk_id IN SELECT c.id FROM _ps_trace.chunk c LOOP
        EXECUTE format('ALTER TABLE _ps_trace.%I DROP CONSTRAINT %I, '
                       'ADD PRIMARY KEY (trace_id, tenant, span_id, start_time)',
                       'span_' || chunk_id, 'span_' || chunk_id || '_pkey');
        -- a tenant's Jaeger search walks its own packed rows newest first (440-trace-query.sql)
        IF to_regclass(format('_ps_trace.%I', 'span_packed_' || chunk_id)) IS NOT NULL THEN
            EXECUTE format('CREATE INDEX ON _ps_trace.%I (tenant, max_start_time)', 'span_packed_' || chunk_id);
        END IF;
    END LOOP;
END;

-- Packing dictionaries per chunk AND tenant: a dictionary is made of sample traces, so one
-- shared by tenants would carry B's spans into what A's reads decompress with (a crafted
-- packed row could copy them out). Rows go with their chunk (ps_trace.drop_expired_trace_partitions).
CREATE TABLE _ps_trace.pack_dictionary (
    chunk_id bigint NOT NULL,
    tenant text NOT NULL,
    dictionary bytea NOT NULL,
    PRIMARY KEY (chunk_id, tenant)
);
COMMENT ON TABLE _ps_trace.pack_dictionary IS
    'The deflate preset dictionary of each chunk''s packed rows of one tenant';
PERFORM pg_catalog.pg_extension_config_dump('_ps_trace.pack_dictionary', '');
GRANT SELECT ON TABLE _ps_trace.pack_dictionary TO prom_reader;
INSERT INTO _ps_trace.pack_dictionary (chunk_id, tenant, dictionary)
SELECT c.id, '', c.pack_dictionary FROM _ps_trace.chunk c WHERE c.pack_dictionary IS NOT NULL;
ALTER TABLE _ps_trace.chunk DROP COLUMN pack_dictionary;
