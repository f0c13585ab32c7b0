"""The privileges a promscale installation grants, as comparable lines.

Every ACL entry of the extension's schemas, relations (tables, views, sequences, their
columns), functions and procedures and types, for every grantee other than the object's owner
(the installing superuser, which holds everything anyway): ``kind object grantee PRIVILEGE`` (tab-separated),
`` *`` after a privilege held WITH GRANT OPTION. An object without an ACL has PostgreSQL's default
one (``acldefault``): a function nobody revoked shows ``PUBLIC EXECUTE``, which is exactly what the
grants must prevent. Objects made at run time (a metric's views, partitions) are included: a fresh
install has none, the upgrade test's database has none either.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

EXTENSION_SCHEMAS = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'public')"

# (kind, object name, owner, ACL or the default one) of every object that has privileges
OBJECTS = f"""
    SELECT 'schema', quote_ident(n.nspname), n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
    FROM pg_namespace n WHERE {EXTENSION_SCHEMAS}
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' ELSE 'table' END,
           c.oid::regclass::text, c.relowner,
           coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {EXTENSION_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'column', c.oid::regclass::text || '.' || quote_ident(a.attname), c.relowner, a.attacl
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {EXTENSION_SCHEMAS} AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.oid::regprocedure::text, p.proowner,
           coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {EXTENSION_SCHEMAS}
    UNION ALL
    SELECT 'type', t.oid::regtype::text, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE {EXTENSION_SCHEMAS} AND t.typtype <> 'b' AND NOT EXISTS (
        SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
"""

QUERY = f"""
    SELECT o.kind || E'\t' || o.name || E'\t'
           || CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END || E'\t'
           || acl.privilege_type || CASE WHEN acl.is_grantable THEN ' *' ELSE '' END
    FROM ({OBJECTS}) AS o (kind, name, owner, acl), aclexplode(o.acl) acl
    WHERE acl.grantee <> o.owner
"""


def privilege_lines(conn: psycopg.Connection) -> list[str]:
    """Every privilege granted on the installation's objects, sorted; names printed under
    search_path = pg_catalog so that each carries its schema."""
    saved = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
    conn.execute("SELECT set_config('search_path', 'pg_catalog', false)")
    try:
        return sorted(row[0] for row in conn.execute(QUERY).fetchall())
    finally:
        conn.execute("SELECT set_config('search_path', %s, false)", (saved,))


SNAPSHOT = Path(__file__).resolve().parent.parent / "sql" / "data" / "privileges.tsv"
REWRITE_VARIABLE = "PROMSCALE_REWRITE_PRIVILEGES"
SNAPSHOT_HEADER = f"""\
# The privileges of a fresh promscale install (tests/support/privileges.py):
# kind, object, grantee, privilege (' *': WITH GRANT OPTION), tab-separated.
# tests/sql/test_privileges_snapshot.py and tests/sql/test_upgrade.py compare installs and upgrades
# with it. A change of privileges is a reviewed diff of this file: rewrite it with
#   {REWRITE_VARIABLE}=1 make test PYTEST_ARGS=tests/sql/test_privileges_snapshot.py
"""


def read_snapshot() -> list[str]:
    return [line for line in SNAPSHOT.read_text().splitlines() if line and not line.startswith("#")]


def write_snapshot(lines: list[str]) -> None:
    SNAPSHOT.write_text(SNAPSHOT_HEADER + "".join(line + "\n" for line in lines))


def differences(expected: list[str], actual: list[str]) -> list[str]:
    """Lines of the snapshot missing from ``actual`` ('-') and lines it does not have ('+')."""
    return ([f"- {line}" for line in expected if line not in actual]
            + [f"+ {line}" for line in actual if line not in expected])
