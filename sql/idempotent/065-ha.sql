-- Prometheus HA pairs: one leader per cluster through a lease in sample time
-- (docs/operations.md, "Running a Prometheus HA pair"; tables in sql/migrations/0013-ha.sql).
--
-- Leadership is a partition of sample time: the replica named in _prom_catalog.ha_lease owns
-- the cluster's samples in [lease_start, lease_until), the rows of _prom_catalog.ha_lease_log
-- the ranges before. A writer keeps a replica's sample only if that replica owns its time, so
-- two replicas never both store the same stretch of time, and stale knowledge of the lease
-- can only drop what the database would drop too.

-- How far past the newest sample of its leader a lease reaches.
CREATE OR REPLACE FUNCTION prom_api.get_ha_lease_timeout()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('ha_lease_timeout', interval '1 minute')
$$;
COMMENT ON FUNCTION prom_api.get_ha_lease_timeout() IS
    'How far (in sample time) past its newest sample a leader''s lease reaches; a follower takes over once its samples pass the lease (default 1 minute)';
GRANT EXECUTE ON FUNCTION prom_api.get_ha_lease_timeout() TO prom_reader;

-- How much sample time passes between two extensions of a lease.
CREATE OR REPLACE FUNCTION prom_api.get_ha_lease_refresh()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('ha_lease_refresh', interval '10 seconds')
$$;
COMMENT ON FUNCTION prom_api.get_ha_lease_refresh() IS
    'How much sample time passes between two extensions of a leader''s lease (default 10 seconds)';
GRANT EXECUTE ON FUNCTION prom_api.get_ha_lease_refresh() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_ha_lease_timeout(timeout interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF timeout <= prom_api.get_ha_lease_refresh() THEN
        RAISE EXCEPTION 'invalid ha lease timeout %: it must be longer than the lease refresh (%)',
            timeout, prom_api.get_ha_lease_refresh()
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Lower it first with prom_api.set_ha_lease_refresh().';
    END IF;
    PERFORM _prom_catalog.set_interval_setting('ha_lease_timeout', timeout, interval '1 second');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_ha_lease_timeout(interval) IS
    'Sets how far past its newest sample a leader''s lease reaches (longer than the refresh); leases extended or taken from now on use it';
GRANT EXECUTE ON FUNCTION prom_api.set_ha_lease_timeout(interval) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.set_ha_lease_refresh(refresh interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF refresh >= prom_api.get_ha_lease_timeout() THEN
        RAISE EXCEPTION 'invalid ha lease refresh %: it must be shorter than the lease timeout (%)',
            refresh, prom_api.get_ha_lease_timeout()
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Raise it first with prom_api.set_ha_lease_timeout().';
    END IF;
    PERFORM _prom_catalog.set_interval_setting('ha_lease_refresh', refresh, interval '1 second');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_ha_lease_refresh(interval) IS
    'Sets how much sample time passes between two extensions of a leader''s lease (shorter than the timeout)';
GRANT EXECUTE ON FUNCTION prom_api.set_ha_lease_refresh(interval) TO prom_admin;

-- The lease of ``cluster`` after a request of ``replica`` with samples in [min_time, max_time]:
--   no lease yet: ``replica`` leads from the beginning ('-infinity': nobody led before it, and
--     the other queue shards of its Prometheus may deliver samples older than this request's);
--   ``replica`` leads: the lease is extended to max_time + timeout, once that passes the
--     current end by the refresh at least (so a leader writes the row once per refresh);
--   another replica leads and its lease ended at or before max_time: ``replica`` takes over
--     from the end of the old lease (no gap, no overlap), the old lease goes to the log.
-- The row is locked only to change it, after a read without lock found something to change;
-- concurrent callers (several connectors, workers) are serialised by that lock and re-check.
-- refresh_at: the sample time from which the leader should call again.
CREATE OR REPLACE FUNCTION prom_api.update_ha_lease(cluster text, replica text, min_time timestamptz,
                                                    max_time timestamptz)
RETURNS TABLE (leader_name text, lease_start timestamptz, lease_until timestamptz, refresh_at timestamptz)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- writers change leases only through this function
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    timeout interval := prom_api.get_ha_lease_timeout();
    refresh interval := prom_api.get_ha_lease_refresh();
    current _prom_catalog.ha_lease;
BEGIN
    IF coalesce(cluster, '') = '' OR coalesce(replica, '') = '' THEN
        RAISE EXCEPTION 'an HA lease needs a cluster and a replica name, got cluster % and replica %',
            coalesce(quote_literal(cluster), 'NULL'), coalesce(quote_literal(replica), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF min_time IS NULL OR max_time IS NULL OR min_time > max_time
       OR NOT isfinite(min_time) OR NOT isfinite(max_time) THEN
        RAISE EXCEPTION 'invalid sample time range [%, %] for the HA lease of cluster %',
            coalesce(min_time::text, 'NULL'), coalesce(max_time::text, 'NULL'), quote_literal(cluster)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT * INTO current FROM _prom_catalog.ha_lease l WHERE l.cluster_name = cluster;
    IF NOT FOUND THEN
        INSERT INTO _prom_catalog.ha_lease AS l (cluster_name, leader_name, lease_start, lease_until)
        VALUES (cluster, replica, '-infinity', max_time + timeout)
        ON CONFLICT (cluster_name) DO NOTHING;
        SELECT * INTO current FROM _prom_catalog.ha_lease l WHERE l.cluster_name = cluster;
    END IF;

    IF (current.leader_name = replica AND max_time + timeout >= current.lease_until + refresh)
       OR (current.leader_name <> replica AND current.lease_until <= max_time) THEN
        SELECT * INTO current FROM _prom_catalog.ha_lease l WHERE l.cluster_name = cluster FOR UPDATE;
        IF current.leader_name = replica THEN
            IF max_time + timeout > current.lease_until THEN
                UPDATE _prom_catalog.ha_lease l SET lease_until = max_time + timeout
                WHERE l.cluster_name = cluster
                RETURNING * INTO current;
            END IF;
        ELSIF current.lease_until <= max_time THEN
            INSERT INTO _prom_catalog.ha_lease_log (cluster_name, leader_name, lease_start, lease_until)
            VALUES (current.cluster_name, current.leader_name, current.lease_start, current.lease_until);
            UPDATE _prom_catalog.ha_lease l
            SET leader_name = replica, lease_start = current.lease_until, lease_until = max_time + timeout
            WHERE l.cluster_name = cluster
            RETURNING * INTO current;
        END IF;
    END IF;

    leader_name := current.leader_name;
    lease_start := current.lease_start;
    lease_until := current.lease_until;
    refresh_at := current.lease_until - timeout + refresh;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION prom_api.update_ha_lease(text, text, timestamptz, timestamptz) IS
    'The HA lease of a cluster after a write of one replica''s samples in [min_time, max_time]: taken, extended or changed to that replica as the lease rules say';
GRANT EXECUTE ON FUNCTION prom_api.update_ha_lease(text, text, timestamptz, timestamptz) TO prom_writer;

-- The closed time ranges a replica led a cluster (the current lease is not among them).
CREATE OR REPLACE FUNCTION prom_api.get_ha_lease_history(cluster text, replica text)
RETURNS TABLE (lease_start timestamptz, lease_until timestamptz)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.lease_start, g.lease_until FROM _prom_catalog.ha_lease_log g
    WHERE g.cluster_name = cluster AND g.leader_name = replica
    ORDER BY g.lease_start
$$;
COMMENT ON FUNCTION prom_api.get_ha_lease_history(text, text) IS
    'The past time ranges in which a replica led a cluster (its backfill for them is accepted)';
GRANT EXECUTE ON FUNCTION prom_api.get_ha_lease_history(text, text) TO prom_reader;

-- For operators: who leads each cluster now.
CREATE OR REPLACE VIEW prom_info.ha_leader AS
SELECT l.cluster_name,
       l.leader_name,
       l.lease_start,
       l.lease_until,
       -- leases are in sample time, which is about wall-clock time for a live Prometheus
       l.lease_until < pg_catalog.now() AS lease_expired
FROM _prom_catalog.ha_lease l;
COMMENT ON VIEW prom_info.ha_leader IS
    'The leader of each Prometheus HA cluster and its lease (in sample time)';
GRANT SELECT ON TABLE prom_info.ha_leader TO prom_reader;

-- For operators: every lease, past and current, of every cluster.
CREATE OR REPLACE VIEW prom_info.ha_lease_history AS
SELECT g.cluster_name, g.leader_name, g.lease_start, g.lease_until, false AS current
FROM _prom_catalog.ha_lease_log g
UNION ALL
SELECT l.cluster_name, l.leader_name, l.lease_start, l.lease_until, true
FROM _prom_catalog.ha_lease l;
COMMENT ON VIEW prom_info.ha_lease_history IS
    'Every lease of every Prometheus HA cluster, the current one last (current = true)';
GRANT SELECT ON TABLE prom_info.ha_lease_history TO prom_reader;
