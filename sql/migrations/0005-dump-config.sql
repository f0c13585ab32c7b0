-- pg_dump must carry the catalog and its id sequences: register them as configuration.
-- (Partitions of prom_data.sample and the per-metric views are created at run time,
-- are not extension members, and are dumped like any user object.)
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.metric', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.label', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.label_key_position', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.series', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.metadata', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.sample_chunk', '');
PERFORM pg_catalog.pg_extension_config_dump('prom_data.exemplar', '');
PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('_prom_catalog.metric', 'id'), '');
PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('_prom_catalog.label', 'id'), '');
PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('_prom_catalog.series', 'id'), '');
PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('_prom_catalog.sample_chunk', 'id'), '');
