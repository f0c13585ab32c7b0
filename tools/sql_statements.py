"""What the SQL sources define and grant, read with sqlglot's PostgreSQL tokenizer.

The tokenizer knows PostgreSQL's lexical rules: a dollar-quoted body (``$$ ... $$``,
``$python$ ... $python$``) is one token, comments (``--``, nested ``/* */``) are no tokens, and
strings and quoted identifiers keep their semicolons. So a ``CREATE``, ``GRANT`` or ``REVOKE``
found among the tokens is a statement of the file, never text inside a function body, a string
or a comment (statements a body builds at run time with ``EXECUTE format(...)`` are not seen).

``read_sql(text)`` gives the definitions (functions, procedures, views, tables, schemas,
sequences, roles) and the privilege statements of one file, with their lines; function
signatures are normalised (argument names, modes, defaults and type aliases dropped) so that
``f(ts timestamptz, n int DEFAULT 1)`` and ``f(timestamp with time zone, integer)`` compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import Token, TokenType

# the kinds of definition a privilege statement can name, by the word after CREATE
DEFINED_KINDS = {"FUNCTION": "function", "PROCEDURE": "procedure", "VIEW": "view", "TABLE": "table",
                 "SCHEMA": "schema", "SEQUENCE": "sequence", "ROLE": "role"}
CREATE_MODIFIERS = {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "RECURSIVE", "MATERIALIZED"}
# two-word starts of PostgreSQL type names: "double precision" is a type, "ts timestamptz" a named argument
MULTIWORD_TYPES = {("double", "precision"), ("timestamp", "with"), ("timestamp", "without"), ("time", "with"),
                   ("time", "without"), ("character", "varying"), ("bit", "varying")}
TYPE_ALIASES = {
    "int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint", "float8": "double precision",
    "float": "double precision", "float4": "real", "bool": "boolean", "decimal": "numeric",
    "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
    "time with time zone": "timetz", "time without time zone": "time", "character varying": "varchar",
    "character": "bpchar", "char": "bpchar", "bit varying": "varbit",
}
ARGUMENT_MODES = {"IN", "OUT", "INOUT", "VARIADIC"}


@dataclass(frozen=True)
class Definition:
    kind: str  # function, procedure, view, table, schema, sequence, role
    name: str  # schema.name, or schema.name(type, ...) for functions and procedures
    line: int
    order: int  # position among the file's statements


@dataclass
class Privileges:
    """One GRANT, REVOKE or ALTER DEFAULT PRIVILEGES statement."""
    verb: str  # GRANT, REVOKE, ALTER DEFAULT PRIVILEGES
    kind: str  # function, procedure, routine, table, schema, sequence, role, type, ..., or "all tables" etc.
    objects: list[str]  # names as Definition.name (schema names for "all ..." kinds)
    grantees: list[str]
    line: int
    order: int


@dataclass
class SqlFile:
    definitions: list[Definition] = field(default_factory=list)
    privileges: list[Privileges] = field(default_factory=list)


def tokenize(text: str) -> list[Token]:
    return Postgres.Tokenizer().tokenize(text)


def word(token: Token) -> str:
    return token.text.upper() if token.token_type != TokenType.IDENTIFIER else ""


def identifier(token: Token) -> str:
    """An identifier as PostgreSQL folds it: quoted ones keep their case."""
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()


def split_top_level(tokens: list[Token], separator: TokenType = TokenType.COMMA) -> list[list[Token]]:
    """``tokens`` cut at each separator outside parentheses and brackets."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif token.token_type == separator and depth == 0:
            parts.append([])
            continue
        parts[-1].append(token)
    return [part for part in parts if part]


def closing_paren(tokens: list[Token], start: int) -> int:
    """The index of the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].token_type == TokenType.L_PAREN:
            depth += 1
        elif tokens[i].token_type == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"line {tokens[start].line}: unbalanced parenthesis")


def qualified_name(tokens: list[Token], i: int) -> tuple[str, int]:
    """The dotted name starting at ``tokens[i]`` and the index after it."""
    parts = [identifier(tokens[i])]
    i += 1
    while i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT:
        parts.append(identifier(tokens[i + 1]))
        i += 2
    return ".".join(parts), i


def type_name(tokens: list[Token]) -> str:
    """A normalised type: lower case, no type modifier, aliases resolved, arrays kept."""
    words, arrays, depth = [], 0, 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth:
            continue  # numeric(10, 2), varchar(20): the modifier is no part of a signature
        elif token.token_type == TokenType.L_BRACKET:
            arrays += 1
        elif token.token_type == TokenType.DOT:
            words.append(".")
        elif token.token_type != TokenType.R_BRACKET and word(token) != "ARRAY":
            words.append(identifier(token))
    text = " ".join(words).replace(" . ", ".")
    text = text.removeprefix("pg_catalog.")
    return TYPE_ALIASES.get(text, text) + "[]" * arrays


def argument_type(tokens: list[Token]) -> str | None:
    """The type of one argument of a signature (None for an OUT argument, no part of it)."""
    if tokens and word(tokens[0]) in ARGUMENT_MODES:
        if word(tokens[0]) == "OUT":
            return None
        tokens = tokens[1:]
    for i, token in enumerate(tokens):
        if word(token) == "DEFAULT" or token.token_type == TokenType.EQ:
            tokens = tokens[:i]
            break
    if len(tokens) >= 2 and tokens[1].token_type not in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.DOT) \
            and (tokens[0].text.lower(), tokens[1].text.lower()) not in MULTIWORD_TYPES:
        tokens = tokens[1:]  # the first word is the argument's name
    return type_name(tokens)


def signature(tokens: list[Token], i: int) -> tuple[str, int]:
    """The normalised ``schema.name(type, ...)`` of the function named at ``tokens[i]``, and the
    index after its argument list."""
    name, i = qualified_name(tokens, i)
    if i >= len(tokens) or tokens[i].token_type != TokenType.L_PAREN:
        return name, i  # a GRANT may name a function without arguments when it has no overloads
    end = closing_paren(tokens, i)
    types = [argument_type(arg) for arg in split_top_level(tokens[i + 1:end])]
    return f"{name}({', '.join(t for t in types if t is not None)})", end + 1


def read_definition(tokens: list[Token], i: int, order: int) -> tuple[Definition | None, int]:
    """The definition a CREATE at ``tokens[i]`` makes (None for kinds no privilege names)."""
    line = tokens[i].line
    i += 1
    while i < len(tokens) and word(tokens[i]) in CREATE_MODIFIERS:
        i += 1
    if i >= len(tokens) or word(tokens[i]) not in DEFINED_KINDS:
        return None, i
    kind = DEFINED_KINDS[word(tokens[i])]
    i += 1
    if [word(t) for t in tokens[i:i + 3]] == ["IF", "NOT", "EXISTS"]:
        i += 3
    if kind in ("function", "procedure"):
        name, i = signature(tokens, i)
    else:
        name, i = qualified_name(tokens, i)
    return Definition(kind, name, line, order), i


PRIVILEGE_KINDS = {"TABLE": "table", "FUNCTION": "function", "PROCEDURE": "procedure", "ROUTINE": "routine",
                   "SCHEMA": "schema", "SEQUENCE": "sequence", "TYPE": "type", "DOMAIN": "type",
                   "DATABASE": "database", "LANGUAGE": "language", "TABLESPACE": "tablespace",
                   "FOREIGN": "foreign", "LARGE": "large object", "PARAMETER": "parameter"}


def read_privileges(statement: list[Token], order: int) -> Privileges:
    """A GRANT or REVOKE statement (without its semicolon)."""
    verb = word(statement[0])
    line = statement[0].line
    target = "TO" if verb == "GRANT" else "FROM"
    depth, on, to = 0, None, None
    for i, token in enumerate(statement):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and word(token) == "ON" and on is None:
            on = i
        elif depth == 0 and word(token) == target and to is None and i > 0:
            to = i
    if to is None:
        raise ValueError(f"line {line}: {verb} without {target}")
    grantees = [identifier(part[0]) if word(part[0]) != "PUBLIC" else "PUBLIC"
                for part in split_top_level(statement[to + 1:]) if word(part[0]) not in ("WITH", "GRANTED")]
    if on is None:  # GRANT role TO role: membership
        return Privileges(verb, "role", [identifier(part[-1]) for part in split_top_level(statement[1:to])],
                          grantees, line, order)
    objects = statement[on + 1:to]
    if objects and word(objects[0]) == "ALL":  # ALL TABLES IN SCHEMA a, b
        kind = "all " + word(objects[1]).lower()
        return Privileges(verb, kind, [identifier(part[0]) for part in split_top_level(objects[4:])],
                          grantees, line, order)
    kind = "table"
    if objects and word(objects[0]) in PRIVILEGE_KINDS:
        kind = PRIVILEGE_KINDS[word(objects[0])]
        objects = objects[1:]
    names = []
    for part in split_top_level(objects):
        names.append(signature(part, 0)[0] if kind in ("function", "procedure", "routine")
                     else qualified_name(part, 0)[0])
    return Privileges(verb, kind, names, grantees, line, order)


def read_sql(text: str) -> SqlFile:
    """The definitions and privilege statements of one SQL file, in order."""
    tokens = tokenize(text)
    out = SqlFile()
    i, order = 0, 0
    while i < len(tokens):
        token = tokens[i]
        if token.token_type == TokenType.CREATE:
            order += 1
            definition, i = read_definition(tokens, i, order)
            if definition:
                out.definitions.append(definition)
            continue
        if word(token) in ("GRANT", "REVOKE") or (
                word(token) == "ALTER" and [word(t) for t in tokens[i + 1:i + 3]] == ["DEFAULT", "PRIVILEGES"]):
            end = i
            while end < len(tokens) and tokens[end].token_type != TokenType.SEMICOLON:
                end += 1
            order += 1
            if word(token) == "ALTER":
                out.privileges.append(Privileges("ALTER DEFAULT PRIVILEGES", "default", [], [], token.line, order))
            else:
                out.privileges.append(read_privileges(tokens[i:end], order))
            i = end + 1
            continue
        i += 1
    return out
