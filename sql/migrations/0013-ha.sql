-- Prometheus HA pairs (docs/operations.md, "Running a Prometheus HA pair"): one leader per
-- cluster, in sample time. The functions are in sql/idempotent/065-ha.sql.

-- The current lease of each cluster: ``leader_name`` (a __replica__ value) owns the samples of
-- the cluster timed in [lease_start, lease_until).
CREATE TABLE _prom_catalog.ha_lease (
    cluster_name text PRIMARY KEY,
    leader_name text NOT NULL,
    lease_start timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    CHECK (lease_start < lease_until)
);
COMMENT ON TABLE _prom_catalog.ha_lease IS
    'Current leader of each Prometheus HA cluster: its samples in [lease_start, lease_until) are stored';
GRANT SELECT ON TABLE _prom_catalog.ha_lease TO prom_reader;

-- Closed leases: who led each cluster before the current leader. Never changed once written:
-- backfill from a replica is accepted for the time ranges it led.
CREATE TABLE _prom_catalog.ha_lease_log (
    cluster_name text NOT NULL,
    leader_name text NOT NULL,
    lease_start timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (cluster_name, leader_name, lease_start),
    CHECK (lease_start < lease_until)
);
COMMENT ON TABLE _prom_catalog.ha_lease_log IS
    'Past leases of each Prometheus HA cluster (one row per leader change), for backfill and audit';
GRANT SELECT ON TABLE _prom_catalog.ha_lease_log TO prom_reader;

PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.ha_lease', '');
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.ha_lease_log', '');
