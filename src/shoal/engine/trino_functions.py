"""Trino functions DuckDB lacks, defined as DuckDB macros on every engine connection.

Athena SQL names them as Trino does and sqlglot passes them through unchanged, so a
macro of the same name (created before the configuration is locked; user SQL cannot
create or replace one) answers where DuckDB would say the function does not exist.
Each follows Trino's documented results; URLs are split by RFC 3986's grammar, which
is what Trino's ``java.net.URI`` parses (a missing part is NULL).
"""

from __future__ import annotations

_SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*:"
_AUTHORITY = _SCHEME + r"//(?:[^@/?#]*@)?"
_HOST = r"(\[[^\]]*\]|[^:/?#]*)"

# Trino's array_distinct keeps each value's first place; DuckDB's list_distinct does
# not keep order. The dialect translates array_distinct to this macro.
ARRAY_DISTINCT = "trino_array_distinct"

MACROS: tuple[str, ...] = (
    # codepoint('A') = 65: the Unicode code point of a one-character string
    "CREATE MACRO codepoint(c) AS unicode(c)",
    # list_position finds NULL too, so one NULL is kept, as in Trino.
    f"CREATE MACRO {ARRAY_DISTINCT}(x) AS list_filter(x, lambda v, i: list_position(x, v) = i)",
    f"CREATE MACRO url_extract_protocol(u) AS "
    f"nullif(regexp_extract(u, '({_SCHEME[1:-1]}):', 1), '')",
    f"CREATE MACRO url_extract_host(u) AS nullif(regexp_extract(u, '{_AUTHORITY}{_HOST}', 1), '')",
    f"CREATE MACRO url_extract_port(u) AS "
    f"TRY_CAST(nullif(regexp_extract(u, '{_AUTHORITY}{_HOST}:([0-9]+)', 2), '') AS BIGINT)",
    "CREATE MACRO url_extract_path(u) AS "
    r"regexp_extract(u, '^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://[^/?#]*)?([^?#]*)', 1)",
    "CREATE MACRO url_extract_query(u) AS "
    r"CASE WHEN regexp_matches(u, '^[^#]*\?') THEN regexp_extract(u, '^[^#?]*\?([^#]*)', 1) END",
    "CREATE MACRO url_extract_fragment(u) AS "
    "CASE WHEN contains(u, '#') THEN regexp_extract(u, '#(.*)$', 1) END",
    # The first value of the query parameter ``name``, NULL when it is absent.
    "CREATE MACRO url_extract_parameter(u, name) AS "
    "list_extract(list_transform(list_filter(string_split(url_extract_query(u), '&'), "
    "lambda p: split_part(p, '=', 1) = name), lambda p: substr(p, length(name) + 2)), 1)",
)
