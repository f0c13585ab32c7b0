"""What a database's promscale installation consists of, as comparable data.

``snapshot(conn)`` describes every object of the non-system schemas (the extension's):
schemas, tables and their columns, indexes, constraints, triggers, views, sequences,
functions with their definitions, types, operators, comments, grants, policies, the
extension's membership and dump configuration, roles the extension uses, the database's
settings, and the rows of the installation catalog that a version defines. Object ids
and timestamps are left out, so a fresh install and an upgraded one compare equal when
they hold the same schema.
"""

from __future__ import annotations

from typing import Any

import psycopg

USER_SCHEMAS = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND n.nspname <> 'public'"

QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text, obj_description(n.oid, 'pg_namespace')
        FROM pg_namespace n WHERE {USER_SCHEMAS}""",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner), c.relacl::text,
               c.reloptions::text, c.relispartition, pg_get_expr(c.relpartbound, c.oid),
               pg_get_partkeydef(c.oid), obj_description(c.oid, 'pg_class'), c.relrowsecurity, c.relreplident
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND c.relkind <> 'i' AND c.relkind <> 'I'""",
    "columns": f"""
        SELECT n.nspname, c.relname,
               array_agg(a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod)
                         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                         || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                         || coalesce(' GENERATED ' || nullif(a.attgenerated::text, ''), '')
                         || coalesce(' IDENTITY ' || nullif(a.attidentity::text, ''), '')
                         || ' STORAGE ' || a.attstorage::text || coalesce(' COMPRESSION ' || nullif(a.attcompression::text, ''), '')
                         || coalesce(' ACL ' || a.attacl::text, '')
                         || coalesce(' STATISTICS ' || nullif(a.attstattarget, -1), '')
                         || coalesce(' COMMENT ' || col_description(c.oid, a.attnum), '')
                         ORDER BY a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
        GROUP BY 1, 2""",
    "indexes": f"""
        SELECT n.nspname, c.relname, pg_get_indexdef(c.oid), c.reloptions::text, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND c.relkind IN ('i', 'I')""",
    "constraints": f"""
        SELECT n.nspname, t.relname, co.conname, pg_get_constraintdef(co.oid), co.contype::text
        FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
        LEFT JOIN pg_class t ON t.oid = co.conrelid
        WHERE {USER_SCHEMAS}""",
    "triggers": f"""
        SELECT n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid), tg.tgenabled::text
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND NOT tg.tgisinternal""",
    "views": f"""
        SELECT n.nspname, c.relname, pg_get_viewdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS} AND c.relkind IN ('v', 'm')""",
    "sequences": f"""
        SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax,
               s.seqmin, s.seqcache, s.seqcycle
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS}""",
    "functions": f"""
        SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proacl::text,
               CASE WHEN p.prokind = 'a' THEN p.prosrc ELSE pg_get_functiondef(p.oid) END,
               obj_description(p.oid, 'pg_proc'), p.procost, p.prorows, p.proleakproof, p.prosupport::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {USER_SCHEMAS}""",
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype::text, pg_get_userbyid(t.typowner), t.typacl::text,
               obj_description(t.oid, 'pg_type'), format_type(t.typbasetype, t.typtypmod), t.typnotnull,
               (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {USER_SCHEMAS} AND t.typtype <> 'b' AND NOT EXISTS (
            SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')""",
    "operators": f"""
        SELECT o.oid::regoperator::text, o.oprcode::regprocedure::text, o.oprresult::regtype::text,
               o.oprcom::regoperator::text, o.oprnegate::regoperator::text, o.oprrest::text, o.oprjoin::text,
               pg_get_userbyid(o.oprowner), obj_description(o.oid, 'pg_operator')
        FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE {USER_SCHEMAS}""",
    "casts": f"""
        SELECT format_type(c.castsource, NULL), format_type(c.casttarget, NULL), c.castfunc::regprocedure::text,
               c.castcontext::text, c.castmethod::text
        FROM pg_cast c JOIN pg_type t ON t.oid IN (c.castsource, c.casttarget)
        JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_SCHEMAS}""",
    "policies": f"""
        SELECT n.nspname, c.relname, po.polname, po.polcmd::text, po.polpermissive,
               po.polroles::regrole[]::text, pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid)
        FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_SCHEMAS}""",
    "default_privileges": """
        SELECT pg_get_userbyid(d.defaclrole), d.defaclnamespace::regnamespace::text, d.defaclobjtype::text,
               d.defaclacl::text
        FROM pg_default_acl d""",
    "extension": """
        SELECT e.extname, e.extversion, e.extrelocatable, e.extnamespace::regnamespace::text,
               (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(e.extconfig) c),
               (SELECT array_agg(x ORDER BY x) FROM unnest(e.extcondition) x)
        FROM pg_extension e""",
    "extension_members": """
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
        FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'promscale'""",
    "roles": """
        SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolbypassrls,
               (SELECT array_agg(m.roleid::regrole::text ORDER BY m.roleid::regrole::text)
                FROM pg_auth_members m WHERE m.member = r.oid)
        FROM pg_roles r WHERE r.rolname LIKE 'prom\\_%' OR r.rolname LIKE 'ps\\_%'""",
    "database_settings": """
        SELECT s.setrole::regrole::text, s.setconfig::text
        FROM pg_db_role_setting s WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())""",
    "migrations": "SELECT name FROM _ps_catalog.migration",
    "python_modules": "SELECT name, is_package, md5(source) FROM _ps_catalog.python_module",
    "settings": "SELECT to_jsonb(s) FROM _ps_catalog.setting s",
}


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every part of the installation, each a sorted list of rows. Definitions name every
    object with its schema (they are printed under search_path = pg_catalog)."""
    saved = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
    conn.execute("SELECT set_config('search_path', 'pg_catalog', false)")
    try:
        return {name: sorted(conn.execute(sql).fetchall(), key=repr) for name, sql in QUERIES.items()}
    finally:
        conn.execute("SELECT set_config('search_path', %s, false)", (saved,))


def differences(left: dict[str, list[tuple[Any, ...]]], right: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Rows present on one side only, as readable lines ('-' left only, '+' right only)."""
    out = []
    for name in left:
        only_left = [row for row in left[name] if row not in right[name]]
        only_right = [row for row in right[name] if row not in left[name]]
        out += [f"{name} - {row}" for row in only_left] + [f"{name} + {row}" for row in only_right]
    return out
