-- Grants of the lifecycle functions (compression, retention, maintenance).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _prom_catalog, prom_api FROM PUBLIC;
-- ALL FUNCTIONS leaves procedures out: execute_maintenance was left to PUBLIC
REVOKE ALL ON ALL PROCEDURES IN SCHEMA _prom_catalog, prom_api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA _prom_catalog, prom_data, prom_info FROM PUBLIC;

-- Readers: decoding compressed rows is part of every read.
GRANT SELECT ON ALL TABLES IN SCHEMA _prom_catalog, prom_data, prom_info TO prom_reader;
GRANT EXECUTE ON FUNCTION
    _prom_catalog.decode_times(bytea),
    _prom_catalog.decode_value_bits(bytea),
    _prom_catalog.float8_from_bits(bigint),
    _prom_catalog.timestamptz_from_us(bigint),
    _prom_catalog.compressed_samples(bigint[], timestamptz, timestamptz, bigint, bigint),
    _prom_catalog.timestamptz_to_us(timestamptz),
    _prom_catalog.get_interval_setting(text, interval),
    _prom_catalog.get_compressed_row_span_max(),
    _prom_catalog.get_metric_id(text),
    prom_api.get_default_retention_period(),
    prom_api.get_metric_retention_period(text),
    prom_api.get_compression_delay(),
    prom_api.get_flush_delay(),
    prom_api.get_compressed_chunk_interval(),
    prom_api.get_metric_samples(text, timestamptz, timestamptz)
TO prom_reader;

-- Maintenance: the steps run as SECURITY DEFINER functions; the role may only call them.
GRANT EXECUTE ON FUNCTION
    prom_api.compress_due_chunks()
TO prom_maintenance, prom_admin;

-- Admins: retention and compression configuration.
GRANT EXECUTE ON FUNCTION
    prom_api.set_default_retention_period(interval),
    prom_api.set_metric_retention_period(text, interval),
    prom_api.reset_metric_retention_period(text),
    prom_api.set_compression_delay(interval),
    prom_api.set_flush_delay(interval),
    prom_api.set_compressed_chunk_interval(interval)
TO prom_admin;

-- Admins: deleting data.
GRANT EXECUTE ON FUNCTION prom_api.delete_series(text, timestamptz, timestamptz) TO prom_admin;

-- Everyone who reads may look at the lifecycle views.
GRANT EXECUTE ON FUNCTION
    _prom_catalog.retention_periods_in_force(),
    _prom_catalog.retention_work(),
    _prom_catalog.chunks_to_flush(),
    _prom_catalog.partitions_to_compact(),
    _prom_catalog.storage_summary(),
    _prom_catalog.count_rows(name)
TO prom_reader;

-- Maintenance (the procedure runs as its caller; every step is SECURITY DEFINER).
GRANT EXECUTE ON PROCEDURE prom_api.execute_maintenance(interval, boolean) TO prom_maintenance, prom_admin;
GRANT EXECUTE ON FUNCTION
    prom_api.refresh_metric_views(boolean),
    _prom_catalog.record_maintenance(text, text),
    _prom_catalog.apply_retention(text, bigint, interval),
    _prom_catalog.purge_exemplars(),
    _prom_catalog.flush_chunks(bigint[]),
    _prom_catalog.drop_flushed_chunks(),
    _prom_catalog.compact_partition(bigint, interval),
    _prom_catalog.drop_compacted_partitions(),
    _prom_catalog.delete_marked_series()
TO prom_maintenance, prom_admin;
GRANT EXECUTE ON FUNCTION
    prom_api.schedule_maintenance(text),
    prom_api.unschedule_maintenance()
TO prom_admin;

-- Writers: samples with an epoch check, and the epoch itself.
GRANT EXECUTE ON FUNCTION
    prom_api.put_samples(bigint[], timestamptz[], double precision[], bigint),
    prom_api.get_series_epoch()
TO prom_writer;
