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
# not keep order. The dialect translates array_distinct to this macro, and the two
# below from sqlglot's ArraySlice and ArrayExcept, whose DuckDB spellings differ.
ARRAY_DISTINCT = "trino_array_distinct"
SLICE = "trino_slice"  # slice(x, start, length): start < 0 counts from the end
ARRAY_EXCEPT = "trino_array_except"

MACROS: tuple[str, ...] = (
    # codepoint('A') = 65: the Unicode code point of a one-character string
    "CREATE MACRO codepoint(c) AS unicode(c)",
    # list_position finds NULL too, so one NULL is kept, as in Trino.
    f"CREATE MACRO {ARRAY_DISTINCT}(x) AS list_filter(x, lambda v, i: list_position(x, v) = i)",
    f"CREATE MACRO {SLICE}(x, s, n) AS CASE WHEN s > 0 THEN list_slice(x, s, s + n - 1) "
    "ELSE list_slice(x, len(x) + s + 1, len(x) + s + n) END",
    f"CREATE MACRO {ARRAY_EXCEPT}(x, y) AS "
    f"{ARRAY_DISTINCT}(list_filter(x, lambda v: NOT list_contains(y, v)))",
    f"CREATE MACRO array_union(x, y) AS {ARRAY_DISTINCT}(list_concat(x, y))",
    "CREATE MACRO arrays_overlap(x, y) AS list_has_any(x, y)",
    # Trino's rows are named field0, field1 (list_zip's fields have no names).
    "CREATE MACRO zip(x, y) AS list_transform(list_zip(x, y), "
    "lambda r: struct_pack(field0 := struct_extract(r, 1), field1 := struct_extract(r, 2)))",
    "CREATE MACRO hamming_distance(a, b) AS hamming(a, b)",
    "CREATE MACRO e() AS exp(1)",
    "CREATE MACRO nan() AS 'NaN'::DOUBLE",
    "CREATE MACRO infinity() AS 'Infinity'::DOUBLE",
    "CREATE MACRO is_infinite(x) AS isinf(x)",
    "CREATE MACRO is_finite(x) AS isfinite(x)",
    # The bucket of x among n equal-width buckets over [low, high); 0 below, n + 1 above.
    "CREATE MACRO width_bucket(x, low, high, n) AS CASE WHEN x < low THEN 0 "
    "WHEN x >= high THEN n + 1 ELSE CAST(floor((x - low) * n / (high - low)) AS BIGINT) + 1 END",
    "CREATE MACRO map_agg(k, v) AS map(list(k), list(v))",
    "CREATE MACRO current_timezone() AS current_setting('TimeZone')",
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
