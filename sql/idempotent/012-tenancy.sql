-- Multitenancy, enforced in the database (docs/operations.md "Two teams on one installation").
--
-- A series of tenant T carries the label __tenant__=T; a series without that label belongs to
-- no tenant. What a transaction may see is decided by ONE function, _prom_catalog.visible_tenants():
--
--   1. the tenants granted (prom_api.grant_tenant) to the calling role, if it has any: a role
--      with grants sees those tenants only;
--   2. narrowed to the request's tenant, when one is set (prom_api.set_request_tenant: the
--      connector sets it for every request when --multi-tenancy is on);
--   3. else everything (a role without grants and no request tenant: as before multitenancy).
--
-- The request setting can only narrow what grants allow, never widen it: any role may set it.
-- Every read path turns that answer into a label-id filter (_prom_catalog.visible_label_filter)
-- applied where label matchers become series ids; the prom_series/prom_metric views apply it
-- in their definitions.

-- Cortex's tenant id rules (alphanumerics and !-_.'(), at most 150 characters, not "." or
-- ".."), without '*', which a token file's tenant field uses for "the header chooses".
CREATE OR REPLACE FUNCTION _prom_catalog.is_valid_tenant_name(tenant text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT tenant ~ '^[A-Za-z0-9!._''()-]{1,150}$' AND tenant NOT IN ('.', '..')
$$;
COMMENT ON FUNCTION _prom_catalog.is_valid_tenant_name(text) IS
    'Whether a text is a valid tenant name: 1 to 150 of A-Z a-z 0-9 ! - _ . '' ( ), not "." or ".."';
GRANT EXECUTE ON FUNCTION _prom_catalog.is_valid_tenant_name(text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.check_tenant_name(tenant text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tenant IS NULL OR NOT _prom_catalog.is_valid_tenant_name(tenant) THEN
        RAISE EXCEPTION 'invalid tenant name %: a tenant is 1 to 150 of the characters A-Z a-z 0-9 ! - _ . '' ( ), and not "." or ".."',
            coalesce(pg_catalog.quote_literal(left(tenant, 160)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION _prom_catalog.check_tenant_name(text) IS 'Raises invalid_parameter_value for an invalid tenant name';
GRANT EXECUTE ON FUNCTION _prom_catalog.check_tenant_name(text) TO prom_reader, prom_tenant_reader;

-- The role a statement runs for: SET ROLE's role, else the login role. Unlike current_user it
-- stays the caller's inside SECURITY DEFINER functions (which switch current_user to their
-- owner), so visibility is decided for the caller wherever it is evaluated.
CREATE OR REPLACE FUNCTION _prom_catalog.calling_role()
RETURNS name
LANGUAGE sql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user
                ELSE pg_catalog.current_setting('role')::name END
$$;
COMMENT ON FUNCTION _prom_catalog.calling_role() IS
    'SET ROLE''s role, else the login role: the caller, also inside SECURITY DEFINER functions';
GRANT EXECUTE ON FUNCTION _prom_catalog.calling_role() TO prom_reader, prom_tenant_reader;

-- Tenants granted to a role directly or through a role it is a member of; NULL when it has no
-- grant, and for superusers (members of every role, they see everything) and unknown roles.
-- It answers only for the calling role and the roles it belongs to (what visible_tenants asks):
-- nobody learns another role's tenants.
CREATE OR REPLACE FUNCTION _prom_catalog.granted_tenants(role_name name)
RETURNS text[]
LANGUAGE sql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN r.rolsuper THEN NULL ELSE (
        SELECT array_agg(DISTINCT g.tenant ORDER BY g.tenant)
        FROM _prom_catalog.tenant_grant g
        JOIN pg_catalog.pg_roles gr ON gr.rolname = g.role_name
        WHERE pg_catalog.pg_has_role(r.oid, gr.oid, 'MEMBER')) END
    FROM pg_catalog.pg_roles r
    WHERE r.rolname = granted_tenants.role_name
      AND pg_catalog.pg_has_role(_prom_catalog.calling_role(), r.oid, 'MEMBER')
$$;
COMMENT ON FUNCTION _prom_catalog.granted_tenants(name) IS
    'Tenants granted to a role or a role it belongs to (prom_api.grant_tenant); NULL: none (or a superuser)';
GRANT EXECUTE ON FUNCTION _prom_catalog.granted_tenants(name) TO prom_reader, prom_tenant_reader;

-- The request's tenant (prom_api.set_request_tenant): NULL when none is set, '' for a request
-- that has none (it sees only series without __tenant__).
CREATE OR REPLACE FUNCTION _prom_catalog.request_tenant()
RETURNS text
LANGUAGE sql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN coalesce(pg_catalog.current_setting('prom_tenancy.request_tenant', true), '') = '' THEN NULL
                ELSE pg_catalog.current_setting('prom_tenancy.request_tenant', true)::json #>> '{}' END
$$;
COMMENT ON FUNCTION _prom_catalog.request_tenant() IS
    'The tenant set by prom_api.set_request_tenant: NULL none set, '''' a request without tenant';
GRANT EXECUTE ON FUNCTION _prom_catalog.request_tenant() TO prom_reader, prom_tenant_reader;

-- THE visibility decision (see the top of this file). NULL: every series is visible; else the
-- tenants whose series are visible, '' standing for the series without a tenant. SECURITY
-- INVOKER on purpose: it also applies the grants of current_user when that is not the calling
-- role (a view or function of another owner), so it must see the caller's current_user.
CREATE OR REPLACE FUNCTION _prom_catalog.visible_tenants()
RETURNS text[]
LANGUAGE plpgsql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller name := _prom_catalog.calling_role();
    visible text[] := _prom_catalog.granted_tenants(caller);
    granted text[];
    requested text := _prom_catalog.request_tenant();
BEGIN
    IF current_user <> caller THEN
        granted := _prom_catalog.granted_tenants(current_user);
        IF granted IS NOT NULL THEN
            visible := CASE WHEN visible IS NULL THEN granted
                            ELSE ARRAY(SELECT unnest(visible) INTERSECT SELECT unnest(granted)) END;
        END IF;
    END IF;
    IF requested IS NOT NULL THEN
        visible := CASE WHEN visible IS NULL OR requested = ANY (visible) THEN ARRAY[requested]
                        ELSE '{}'::text[] END;
    END IF;
    RETURN visible;
END
$$;
COMMENT ON FUNCTION _prom_catalog.visible_tenants() IS
    'Tenants whose series this transaction may see (NULL: all; '''' = series without tenant): the calling role''s grants (prom_api.grant_tenant), narrowed to the request tenant (prom_api.set_request_tenant)';
GRANT EXECUTE ON FUNCTION _prom_catalog.visible_tenants() TO prom_reader, prom_tenant_reader;

-- The label ids that decide whether a series of these tenants is visible (see labels_visible).
CREATE OR REPLACE FUNCTION _prom_catalog.tenant_label_filter(tenants text[], OUT must_have int[], OUT must_not_have int[])
LANGUAGE sql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN tenants IS NULL OR '' = ANY (tenants) THEN NULL
                ELSE coalesce((SELECT array_agg(l.id ORDER BY l.id) FROM _prom_catalog.label l
                               WHERE l.key = '__tenant__' AND l.value = ANY (tenants)), '{}') END,
           CASE WHEN tenants IS NULL OR NOT '' = ANY (tenants) THEN NULL
                ELSE (SELECT array_agg(l.id ORDER BY l.id) FROM _prom_catalog.label l
                      WHERE l.key = '__tenant__' AND l.value <> ALL (tenants)) END
$$;
COMMENT ON FUNCTION _prom_catalog.tenant_label_filter(text[]) IS
    'Label-id filter (must_have, must_not_have) of the series of these tenants ('''' = without tenant; NULL = all)';
GRANT EXECUTE ON FUNCTION _prom_catalog.tenant_label_filter(text[]) TO prom_reader, prom_tenant_reader;

-- The filter of the series this transaction may see: a series is visible when its labels
-- overlap must_have (unless NULL) and do not overlap must_not_have (unless NULL); both NULL:
-- every series. Evaluate it once per statement (a scalar subquery) and test each series with
-- _prom_catalog.labels_visible.
CREATE OR REPLACE FUNCTION _prom_catalog.visible_label_filter(OUT must_have int[], OUT must_not_have int[])
LANGUAGE sql
STABLE
PARALLEL RESTRICTED  -- in a parallel plan, evaluated by the leader (views' InitPlans)
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT f.must_have, f.must_not_have FROM _prom_catalog.tenant_label_filter(_prom_catalog.visible_tenants()) f
$$;
COMMENT ON FUNCTION _prom_catalog.visible_label_filter() IS
    'Label-id filter (must_have, must_not_have) of the series visible to this transaction (_prom_catalog.visible_tenants)';
GRANT EXECUTE ON FUNCTION _prom_catalog.visible_label_filter() TO prom_reader, prom_tenant_reader;

-- No SET clause, so that it is inlined into the views' per-row filter (every name qualified;
-- listed in 999-checks.sql).
CREATE OR REPLACE FUNCTION _prom_catalog.labels_visible(labels int[], must_have int[], must_not_have int[])
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT (must_have IS NULL OR labels OPERATOR(pg_catalog.&&) must_have)
       AND (must_not_have IS NULL OR NOT labels OPERATOR(pg_catalog.&&) must_not_have)
$$;
COMMENT ON FUNCTION _prom_catalog.labels_visible(int[], int[], int[]) IS
    'Whether a series with these label ids passes a visible_label_filter';
GRANT EXECUTE ON FUNCTION _prom_catalog.labels_visible(int[], int[], int[]) TO prom_reader, prom_tenant_reader;

-- The request's tenant for the rest of the transaction (is_local) or session: tenant T sees
-- and writes only T's series, '' only series without tenant, NULL lifts the request's
-- restriction (a role's grants still apply). Any role may call it: it can only narrow.
CREATE OR REPLACE FUNCTION prom_api.set_request_tenant(tenant text, is_local boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tenant IS NOT NULL AND tenant <> '' THEN
        PERFORM _prom_catalog.check_tenant_name(tenant);
    END IF;
    PERFORM pg_catalog.set_config('prom_tenancy.request_tenant',
                                  CASE WHEN tenant IS NULL THEN '' ELSE pg_catalog.to_json(tenant)::text END,
                                  coalesce(is_local, true));
END
$$;
COMMENT ON FUNCTION prom_api.set_request_tenant(text, boolean) IS
    'Restricts this transaction (or session) to one tenant''s series ('''': series without tenant; NULL: no request restriction)';
GRANT EXECUTE ON FUNCTION prom_api.set_request_tenant(text, boolean) TO prom_reader, prom_tenant_reader;

-- Lets a role see one tenant's data: its series through the prom_metric/prom_series views and
-- the query functions, nothing of other tenants. The role becomes a member of
-- prom_tenant_reader (views and query functions, not the catalog tables). A role that reads
-- the catalog tables (prom_reader) or a superuser is refused: it would see every tenant.
CREATE OR REPLACE FUNCTION prom_api.grant_tenant(role_name name, tenant text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r pg_catalog.pg_roles;
BEGIN
    PERFORM _prom_catalog.check_tenant_name(tenant);
    SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % does not exist', pg_catalog.quote_ident(role_name) USING ERRCODE = 'undefined_object';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role % is a superuser: it sees every tenant, a tenant grant cannot restrict it',
            pg_catalog.quote_ident(role_name) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.pg_has_role(r.oid, 'prom_reader', 'MEMBER') THEN
        RAISE EXCEPTION 'role % is a member of prom_reader, which reads the catalog tables of every tenant',
            pg_catalog.quote_ident(role_name)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Revoke prom_reader (and prom_writer, prom_admin...) from it; grant_tenant gives it prom_tenant_reader.';
    END IF;
    INSERT INTO _prom_catalog.tenant_grant (role_name, tenant) VALUES (role_name, tenant) ON CONFLICT DO NOTHING;
    EXECUTE pg_catalog.format('GRANT prom_tenant_reader TO %I', role_name);
END
$$;
COMMENT ON FUNCTION prom_api.grant_tenant(name, text) IS
    'Lets a role (and its members) see a tenant''s series through the views and query functions, and no other tenant''s';
GRANT EXECUTE ON FUNCTION prom_api.grant_tenant(name, text) TO prom_admin;

-- Takes a grant back; without grants left the role leaves prom_tenant_reader. True when the
-- grant existed.
CREATE OR REPLACE FUNCTION prom_api.revoke_tenant(role_name name, tenant text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existed boolean;
BEGIN
    DELETE FROM _prom_catalog.tenant_grant g WHERE g.role_name = revoke_tenant.role_name AND g.tenant = revoke_tenant.tenant;
    existed := FOUND;
    IF NOT EXISTS (SELECT 1 FROM _prom_catalog.tenant_grant g WHERE g.role_name = revoke_tenant.role_name)
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
        EXECUTE pg_catalog.format('REVOKE prom_tenant_reader FROM %I', role_name);
    END IF;
    RETURN existed;
END
$$;
COMMENT ON FUNCTION prom_api.revoke_tenant(name, text) IS
    'Takes back a tenant grant (prom_api.grant_tenant); true when it existed';
GRANT EXECUTE ON FUNCTION prom_api.revoke_tenant(name, text) TO prom_admin;

-- The grants, for administrators.
CREATE OR REPLACE VIEW prom_info.tenant_grant AS
SELECT g.role_name, g.tenant, g.granted_at FROM _prom_catalog.tenant_grant g;
COMMENT ON VIEW prom_info.tenant_grant IS 'Which role may see which tenant (prom_api.grant_tenant)';
GRANT SELECT ON TABLE prom_info.tenant_grant TO prom_reader;

-- Refuses series this transaction may not see: in a tenant context, every series written must
-- carry the tenant's __tenant__ (and a request without tenant may write only series without
-- one). Called where label sets become series ids (prom_api.get_or_create_series_ids_with_activity);
-- outside a tenant context it costs one call and no read.
CREATE OR REPLACE FUNCTION _prom_catalog.check_series_visible(series_ids bigint[])
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f record;
    refused int[];
BEGIN
    SELECT * INTO f FROM _prom_catalog.visible_label_filter();
    IF f.must_have IS NULL AND f.must_not_have IS NULL THEN
        RETURN;
    END IF;
    SELECT s.labels INTO refused
    FROM _prom_catalog.series s
    WHERE s.id = ANY (series_ids) AND NOT _prom_catalog.labels_visible(s.labels, f.must_have, f.must_not_have)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'series % is not of the request''s tenant: %', prom_api.jsonb(refused),
            CASE WHEN _prom_catalog.request_tenant() IS NULL THEN 'this role''s tenant grants do not cover it'
                 WHEN _prom_catalog.request_tenant() = '' THEN 'a request without tenant may not write a __tenant__ label'
                 ELSE pg_catalog.format('its __tenant__ label must be %s', pg_catalog.to_json(_prom_catalog.request_tenant())) END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION _prom_catalog.check_series_visible(bigint[]) IS
    'Raises invalid_parameter_value when a series is not visible to this transaction (a write outside its tenant)';
