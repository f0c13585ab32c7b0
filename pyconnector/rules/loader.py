"""The rule files of --rules-file (comma-separated paths or globs), read and handed to the
database (prom_api.put_rule_files), which validates them all before changing anything."""

from __future__ import annotations

import glob
import logging

from ..db import Database, DatabaseUnavailable, QueryFailed, QueryTimeout

log = logging.getLogger(__name__)


class RuleFileError(Exception):
    """The rule files could not be read or the database refused them."""


def split_patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def expand(patterns: list[str]) -> list[str]:
    """The files the patterns name, each once, in Prometheus's order (patterns in order, the
    matches of each sorted)."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in matches:
            if path not in files:
                files.append(path)
    return files


class RuleFiles:
    def __init__(self, db: Database, patterns: str):
        self.db = db
        self.patterns = split_patterns(patterns)

    @property
    def configured(self) -> bool:
        return bool(self.patterns)

    def load(self) -> int:
        """Reads the files and replaces the groups loaded from files; the number of groups."""
        files = expand(self.patterns)
        contents = []
        for path in files:
            try:
                with open(path, encoding="utf-8") as f:
                    contents.append(f.read())
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleFileError(f"cannot read rule file {path}: {exc}") from None
        try:
            # a write: on the primary even when queries go to read replicas (--db-read-uri)
            count = self.db.call_on_primary("SELECT prom_api.put_rule_files(%s::text[], %s::text[])",
                                            (files, contents))
        except QueryFailed as exc:
            raise RuleFileError(str(exc)) from None
        except QueryTimeout as exc:  # as any statement the database cancelled: answered 503
            raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
        log.info("loaded %d rule groups from %d rule files", count, len(files))
        return int(count)
