"""The privilege rules of the SQL contract (docs/development.md, "Privileges").

* Every GRANT and REVOKE names objects its own file defines, and follows their definition
  directly: nothing but comments and other privilege statements between them (a statement may
  name several objects defined one after the other, overloads say).
* A table or schema of a released (frozen) migration is granted in one idempotent file, the one
  that owns it (defines its functions); a new migration grants what it creates itself, and a
  later unreleased migration may grant it too (to a role it creates: the roles come first).
* Every function and procedure of a public schema (no leading underscore), every view, table and
  schema has its privileges decided in its own file: at least one GRANT, or a
  ``REVOKE ALL ... FROM PUBLIC`` saying that no role gets it. (Internal functions need no
  statement: the default deny below leaves them to their owner.)
* PostgreSQL lets PUBLIC execute every new function: the default-deny file revokes that, for every
  function of every schema of the extension, after all definitions; it is the one place for
  ``... ON ALL ... IN SCHEMA`` and it must list every schema.
  No function is defined in a file after it.
* No ALTER DEFAULT PRIVILEGES: privileges are given object by object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sql_statements import Definition, Privileges, SqlFile, read_sql

DEFAULT_DENY = "sql/idempotent/900-default-deny.sql"
# the default deny: EXECUTE on every function and procedure taken from PUBLIC (sequences: see the file)
DEFAULT_DENY_KINDS = {"all functions", "all procedures", "all sequences"}
ROUTINE_KINDS = {"function", "procedure"}
# sources whose tables and schemas are granted by the idempotent file that owns them: released
# migrations are frozen, and the bootstrap script runs before migration 0001 creates the roles
OWNED_ELSEWHERE = {"released migration", "bootstrap"}
RELATION_KINDS = {"table", "view", "sequence"}


@dataclass
class Index:
    """What the check knows of all sources, and what it found granted so far."""
    defined_in: dict[tuple[str, str], "Source"]  # (kind, name) -> the file defining it
    frozen_state: dict[tuple[str, str], "Source"]  # tables and schemas granted by an owner file
    owners: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # frozen state -> files granting it
    decided: set[tuple[str, str, str]] = field(default_factory=set)  # (file, kind, name) with a statement


@dataclass
class Source:
    path: str  # relative to the repository
    kind: str  # bootstrap, migration, released migration, idempotent
    sql: SqlFile


def matches(privileges: Privileges, name: str, definition: Definition) -> bool:
    """Whether ``name`` in ``privileges`` refers to ``definition``."""
    if privileges.kind in ("function", "procedure", "routine"):
        if definition.kind not in ROUTINE_KINDS:
            return False
        if "(" in name:
            return definition.name == name
        return definition.name.split("(")[0] == name
    if privileges.kind == "table":
        return definition.kind in RELATION_KINDS and definition.name == name
    return definition.kind == privileges.kind and definition.name == name


def describe(definition: Definition) -> str:
    return f"{definition.kind} {definition.name}"


def read_sources(root: Path, released_migrations: set[str]) -> list[Source]:
    sources = [Source("sql/bootstrap.sql", "bootstrap", read_sql((root / "sql" / "bootstrap.sql").read_text()))]
    for path in sorted((root / "sql" / "migrations").glob("*.sql")):
        kind = "released migration" if path.name in released_migrations else "migration"
        sources.append(Source(f"sql/migrations/{path.name}", kind, read_sql(path.read_text())))
    for path in sorted((root / "sql" / "idempotent").glob("*.sql")):
        sources.append(Source(f"sql/idempotent/{path.name}", "idempotent", read_sql(path.read_text())))
    return sources


def check_privileges(root: Path, released_migrations: set[str]) -> list[str]:
    """The violations of the privilege rules, each naming its file and line and what to do."""
    try:
        sources = read_sources(root, released_migrations)
    except ValueError as error:
        return [f"cannot read the SQL sources: {error}"]
    problems: list[str] = []
    # where each object is defined: functions and views by idempotent files, state by migrations
    defined_in: dict[tuple[str, str], Source] = {}
    for source in sources:
        for definition in source.sql.definitions:
            if definition.kind in ROUTINE_KINDS and source.kind != "idempotent":
                continue  # a migration's placeholder of a function an idempotent file defines
            defined_in.setdefault((definition.kind, definition.name), source)
    # state whose grants cannot follow it: frozen, or made by the bootstrap before the roles exist
    frozen_state = {(d.kind, d.name): source for source in sources if source.kind in OWNED_ELSEWHERE
                    for d in source.sql.definitions if d.kind in ("table", "schema", "sequence")}
    index = Index(defined_in, frozen_state)

    for source in sources:
        for privileges in source.sql.privileges:
            where = f"{source.path}:{privileges.line}"
            if privileges.verb == "ALTER DEFAULT PRIVILEGES":
                problems.append(f"{where}: ALTER DEFAULT PRIVILEGES: grant each object right after its definition "
                                f"instead")
                continue
            if privileges.kind.startswith("all "):
                if not (source.path == DEFAULT_DENY and privileges.verb == "REVOKE"
                        and privileges.kind in DEFAULT_DENY_KINDS and privileges.grantees == ["PUBLIC"]):
                    problems.append(f"{where}: {privileges.verb} ON {privileges.kind.upper()} IN SCHEMA: grant each "
                                    f"object right after its definition instead (only {DEFAULT_DENY} revokes "
                                    f"PUBLIC's EXECUTE schema-wide)")
                continue
            for name in privileges.objects:
                problems += check_one(source, privileges, name, index)

    for (kind, name), files in sorted(index.owners.items()):
        if len(files) > 1:
            problems.append(f"{kind} {name} (created by {frozen_state[(kind, name)].path}) is granted in "
                            f"{', '.join(sorted(files))}: keep its privileges in one idempotent file, its owner")
    problems += undecided(sources, index)
    problems += default_deny_coverage(sources)
    return problems


def check_one(source: Source, privileges: Privileges, name: str, index: Index) -> list[str]:
    """The problems of one object named by one privilege statement (and its decision recorded)."""
    where = f"{source.path}:{privileges.line}"
    what = f"{privileges.verb} for {name}"
    own = [d for d in source.sql.definitions if matches(privileges, name, d)
           and (d.kind not in ROUTINE_KINDS or source.kind == "idempotent")]
    if own:
        definition = own[-1]
        index.decided.add((source.path, definition.kind, definition.name))
        named = {d.name for d in source.sql.definitions
                 if any(matches(privileges, other, d) for other in privileges.objects)}
        between = [d for d in source.sql.definitions
                   if definition.order < d.order < privileges.order and d.name not in named]
        if privileges.kind == "role" or source.kind == "released migration":
            return []  # role memberships follow all the roles; a frozen file cannot be changed
        if definition.order > privileges.order:
            return [f"{where}: {what} must follow its definition (line {definition.line})"]
        if between:
            return [f"{where}: {what} must follow its definition (line {definition.line}) directly, not after "
                    f"{describe(between[0])} (line {between[0].line}): move it to just after line {definition.line}"]
        return []
    state = [key for key in index.frozen_state if privileges.kind in ("table", key[0]) and key[1] == name
             and (privileges.kind == "table") == (key[0] != "schema")]
    if state and source.kind == "idempotent":
        index.owners.setdefault(state[0], set()).add(source.path)
        index.decided.add((source.path,) + state[0])
        return []
    elsewhere = [(kind, n) for (kind, n) in index.defined_in
                 if matches(privileges, name, Definition(kind, n, 0, 0))]
    if elsewhere:
        home = index.defined_in[elsewhere[0]]
        if source.kind == "migration" and home.kind == "migration" and home.path < source.path \
                and privileges.kind in ("table", "schema"):
            return []  # a role a later migration creates is granted the state of an earlier one there
        return [f"{where}: {what} must follow its definition in file {home.path}"]
    if state:
        return [f"{where}: {what}: it is created by {index.frozen_state[state[0]].path}; grant it in the idempotent "
                f"file that owns it (docs/development.md, Privileges)"]
    if privileges.kind == "role":
        return [f"{where}: {what}: roles are granted in the migration that creates them"]
    return [f"{where}: {what}: no file defines {privileges.kind} {name}"]


def undecided(sources: list[Source], index: Index) -> list[str]:
    """Definitions without a privilege statement in their own file."""
    problems = []
    for source in sources:
        for d in source.sql.definitions:
            if source.kind == "idempotent" and d.kind in ROUTINE_KINDS:
                needed = not d.name.startswith("_")
            elif source.kind == "idempotent":
                needed = d.kind == "view"
            elif source.kind in OWNED_ELSEWHERE:
                needed = d.kind in ("table", "schema") and (d.kind, d.name) not in index.owners
            else:  # a new migration: its state is granted where it is created
                needed = d.kind in ("table", "schema")
            if not needed or (source.path, d.kind, d.name) in index.decided:
                continue
            where = f"{source.path}:{d.line}"
            if source.kind in OWNED_ELSEWHERE:
                problems.append(f"{where}: {describe(d)} has no privileges decided: grant them in the idempotent "
                                f"file that owns it (docs/development.md, Privileges)")
            else:
                keyword = {"function": "FUNCTION", "procedure": "PROCEDURE", "view": "TABLE", "table": "TABLE",
                           "schema": "SCHEMA"}[d.kind]
                problems.append(f"{where}: {describe(d)} has no privileges decided: follow its definition with "
                                f"GRANT ... ON {keyword} {d.name} TO <role> (docs/development.md, Privileges), "
                                f"or REVOKE ALL ON {keyword} {d.name} FROM PUBLIC if no role may use it")
    return problems


def default_deny_coverage(sources: list[Source]) -> list[str]:
    """Every schema of the extension in the default deny's REVOKE of functions and of procedures."""
    schemas = {d.name: source.path for source in sources for d in source.sql.definitions if d.kind == "schema"}
    deny = [s for s in sources if s.path == DEFAULT_DENY]
    if not deny:
        return [f"{DEFAULT_DENY} is missing: PostgreSQL would let PUBLIC execute every function"]
    problems = []
    later = sources[sources.index(deny[0]) + 1:]
    for source in later:
        for d in source.sql.definitions:
            if d.kind in ROUTINE_KINDS:
                problems.append(f"{source.path}:{d.line}: {describe(d)} is defined after {DEFAULT_DENY}, so PUBLIC "
                                f"could execute it: define functions in a file numbered before it")
    for kind in sorted(DEFAULT_DENY_KINDS):
        covered = {name for p in deny[0].sql.privileges if p.kind == kind for name in p.objects}
        for name in sorted(set(schemas) - covered):
            problems.append(f"{DEFAULT_DENY}: schema {name} (created by {schemas[name]}) is missing from "
                            f"REVOKE ALL ON {kind.upper()} IN SCHEMA ... FROM PUBLIC")
    return problems
