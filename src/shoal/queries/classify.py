"""Tell statement kinds apart from their leading keywords, before any full parse.

Athena routes Hive DDL (CREATE EXTERNAL TABLE, MSCK, ALTER TABLE … PARTITION, SHOW …)
and Trino SQL (SELECT, CTAS, INSERT, UNLOAD, views) to different engines; shoal does
the same: the kind picks the handler, and the handler parses the statement fully.
Kinds are Athena's SubstatementType names; ``STATEMENT_TYPES`` gives StatementType.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shoal.errors import InvalidInputError

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
# A table name as written (quoted parts may hold spaces): ALTER TABLE's clause follows.
_NAME = r"""(?:[^ `"]|`[^`]*`|"[^"]*")+"""

# (pattern over the normalised leading text, kind); first match wins, so the more
# specific patterns come first.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^(with\b|select\b|values\b|\()", "SELECT"),
    (r"^explain\b", "EXPLAIN"),
    (r"^(describe|desc)\b", "DESCRIBE"),
    (r"^show (databases|schemas)\b", "SHOW_DATABASES"),
    (r"^show tables\b", "SHOW_TABLES"),
    (r"^show views\b", "SHOW_VIEWS"),
    (r"^show columns\b", "SHOW_COLUMNS"),
    (r"^show partitions\b", "SHOW_PARTITIONS"),
    (r"^show create view\b", "SHOW_CREATE_VIEW"),
    (r"^show create table\b", "SHOW_CREATE_TABLE"),
    (r"^show tblproperties\b", "SHOW_TBLPROPERTIES"),
    (r"^create (database|schema)\b", "CREATE_DATABASE"),
    (r"^drop (database|schema)\b", "DROP_DATABASE"),
    (r"^create (or replace )?view\b", "CREATE_VIEW"),
    (r"^drop view\b", "DROP_VIEW"),
    (r"^create table\b.*\bas\s*(\(\s*)?(with|select|values)\b", "CREATE_TABLE_AS_SELECT"),
    (r"^create (external )?table\b", "CREATE_TABLE"),
    (r"^drop table\b", "DROP_TABLE"),
    (rf"^alter table {_NAME} add (if not exists )?partition\b", "ALTER_TABLE_ADD_PARTITION"),
    (rf"^alter table {_NAME} drop (if exists )?partition\b", "ALTER_TABLE_DROP_PARTITION"),
    (rf"^alter table {_NAME} set tblproperties\b", "ALTER_TABLE_SET_TBLPROPERTIES"),
    (rf"^alter table {_NAME} set location\b", "ALTER_TABLE_SET_LOCATION"),
    (rf"^alter table {_NAME} add columns\b", "ALTER_TABLE_ADD_COLUMNS"),
    (rf"^alter table {_NAME} replace columns\b", "ALTER_TABLE_REPLACE_COLUMNS"),
    (rf"^alter table {_NAME} change\b", "ALTER_TABLE_CHANGE_COLUMN"),
    (r"^msck repair table\b", "MSCK_REPAIR_TABLE"),
    (r"^insert into\b", "INSERT"),
    (r"^unload\b", "UNLOAD"),
)
_COMPILED = tuple((re.compile(p, re.DOTALL), kind) for p, kind in _PATTERNS)

STATEMENT_TYPES: dict[str, str] = {
    "SELECT": "DML",
    "EXPLAIN": "UTILITY",
    "DESCRIBE": "UTILITY",
    "SHOW_DATABASES": "UTILITY",
    "SHOW_TABLES": "UTILITY",
    "SHOW_VIEWS": "UTILITY",
    "SHOW_COLUMNS": "UTILITY",
    "SHOW_PARTITIONS": "UTILITY",
    "SHOW_CREATE_VIEW": "UTILITY",
    "SHOW_CREATE_TABLE": "UTILITY",
    "SHOW_TBLPROPERTIES": "UTILITY",
    "CREATE_DATABASE": "DDL",
    "DROP_DATABASE": "DDL",
    "CREATE_VIEW": "DDL",
    "DROP_VIEW": "DDL",
    "CREATE_TABLE_AS_SELECT": "DML",
    "CREATE_TABLE": "DDL",
    "DROP_TABLE": "DDL",
    "ALTER_TABLE_ADD_PARTITION": "DDL",
    "ALTER_TABLE_DROP_PARTITION": "DDL",
    "ALTER_TABLE_SET_TBLPROPERTIES": "DDL",
    "ALTER_TABLE_SET_LOCATION": "DDL",
    "ALTER_TABLE_ADD_COLUMNS": "DDL",
    "ALTER_TABLE_REPLACE_COLUMNS": "DDL",
    "ALTER_TABLE_CHANGE_COLUMN": "DDL",
    "MSCK_REPAIR_TABLE": "DDL",
    "INSERT": "DML",
    "UNLOAD": "DML",
}


def strip_comments(sql: str) -> str:
    """SQL without comments (string literals containing '--' are rare in leading text)."""
    return _COMMENT_RE.sub(" ", sql)


def classify(sql: str) -> str:
    """The kind of statement ``sql`` is, or InvalidInputError naming what was seen."""
    text = " ".join(strip_comments(sql).split()).lower().rstrip("; ")
    if not text:
        raise InvalidInputError("the query is empty")
    for pattern, kind in _COMPILED:
        if pattern.search(text):
            return kind
    leading = " ".join(text.split()[:3])
    raise InvalidInputError(f"unsupported statement starting with {leading!r}")


@dataclass(frozen=True)
class Statement:
    """A statement classified once: its text, its kind and its bound parameter values.

    The query service makes one when a query is submitted (for ``EXECUTE``, of the
    prepared statement's text) and carries it to the runner and the authorizer, so
    neither classifies nor binds again.
    """

    sql: str
    kind: str  # Athena's SubstatementType: SELECT, CREATE_TABLE, SHOW_TABLES, ...
    parameters: tuple[Any, ...] = ()  # values bound to ``?``, in order

    @classmethod
    def of(cls, sql: str, parameters: Sequence[Any] = ()) -> Statement:
        """Classify ``sql``; InvalidInputError when it is no statement shoal knows."""
        return cls(sql, classify(sql), tuple(parameters))

    @property
    def statement_type(self) -> str:
        """Athena's StatementType: DML, DDL or UTILITY."""
        return STATEMENT_TYPES[self.kind]
