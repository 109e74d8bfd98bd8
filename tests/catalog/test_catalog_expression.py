"""GetPartitions expressions and GetTables name patterns: decision tables, no database."""

from __future__ import annotations

import pytest

from shoal.catalog.expression import (
    HIVE_NULL,
    compile_name_pattern,
    compile_partition_filter,
    partition_order_key,
)
from shoal.catalog.model import Column
from shoal.errors import InvalidInputError

KEYS = (
    Column("year", "string"),
    Column("month", "string"),
    Column("day", "int"),
    Column("region", "string"),
)
PARTITIONS = {
    "a": ("2023", "12", "31", "eu"),
    "b": ("2024", "01", "1", "eu"),
    "c": ("2024", "01", "15", "us"),
    "d": ("2024", "02", "2", "us"),
    "e": ("2024", "03", "10", "eu"),
    "f": ("2025", "01", "9", HIVE_NULL),
}


def matching(expression: str, keys: tuple[Column, ...] = KEYS, rows: dict | None = None) -> str:  # type: ignore[type-arg]
    test = compile_partition_filter(expression, keys)
    return "".join(name for name, values in (rows or PARTITIONS).items() if test(values))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("year = '2024' AND month IN ('01','02')", "bcd"),
        ("year = '2024'", "bcde"),
        ("year <> '2024'", "af"),
        ("year != '2024'", "af"),
        ("year > '2023'", "bcdef"),
        ("year >= '2024' AND year <= '2024'", "bcde"),
        ("year < '2024'", "a"),
        # numeric key: numbers compare as numbers (as text, '9' > '15')
        ("day > 9", "ace"),
        ("day = '01'", "b"),
        ("day = 1.0", "b"),
        ("day < -1", ""),
        ("day BETWEEN 2 AND 10", "def"),
        ("day NOT BETWEEN 2 AND 10", "abc"),
        ("day IN (1, 2, 3)", "bd"),
        # text key: a number literal compares as its text
        ("month = 1", ""),
        ("month = 01", "bcf"),  # a number literal compares as written
        ("month BETWEEN '01' AND '02'", "bcdf"),
        ("month NOT IN ('01')", "ade"),
        ("region LIKE 'e%'", "abe"),
        ("region LIKE '_s'", "cd"),
        ("region NOT LIKE 'e%'", "cd"),
        ("NOT region LIKE 'e%'", "cd"),
        ("region IS NULL", "f"),
        ("region IS NOT NULL", "abcde"),
        # NULL is unknown: neither = nor <> matches it
        ("region <> 'eu'", "cd"),
        ("NOT (region = 'eu')", "cd"),
        ("region IN ('eu', NULL)", "abe"),
        ("region NOT IN ('eu', NULL)", ""),
        ("NOT (year = '2024')", "af"),
        ("NOT year = '2024' AND day > 10", "a"),
        ("year = '2023' OR region = 'us'", "acd"),
        ("(year = '2023' OR year = '2025') AND day < 10", "f"),
        ("year = '2023' OR (year = '2025' AND day < 10)", "af"),
        ("\"YEAR\" = '2024' AND Month = '03'", "e"),
        ("TRUE", "abcdef"),
        ("day = day", "abcdef"),
        ("region IS NULL OR region = 'us'", "cdf"),
    ],
)
def test_partition_expressions(expression: str, expected: str) -> None:
    assert matching(expression) == expected


NAMES = {
    "underscore": ("a_b",),
    "x": ("axb",),
    "dot": ("a.c",),
    "abc": ("abc",),
    "percent": ("50%",),
    "injection": ("1' OR '1'='1",),
    "newline": ("a\nb",),
    "regex": ("a.*",),
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name LIKE 'a!_b' ESCAPE '!'", ["underscore"]),
        ("name LIKE 'a_b'", ["underscore", "x", "newline"]),
        ("name LIKE 'a.c'", ["dot"]),
        ("name LIKE 'a.*'", ["regex"]),
        ("name LIKE '50!%' ESCAPE '!'", ["percent"]),
        ("name NOT LIKE 'a%' ESCAPE '!'", ["percent", "injection"]),
        ("name LIKE '%%'", list(NAMES)),
        ("name = '1'' OR ''1''=''1'", ["injection"]),
        ("name = '1' OR '1'='1'", list(NAMES)),  # a real OR of a true literal comparison
        ("name LIKE '1'' OR %'", ["injection"]),
    ],
)
def test_like_and_literal_values(expression: str, expected: list[str]) -> None:
    keys = (Column("name", "string"),)
    assert matching(expression, keys, NAMES) == "".join(expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("year =", "line 1, column"),
        ("year = '2024", "invalid partition expression"),
        ("(year = '2024'", "invalid partition expression"),
        ("nope = '1'", "unknown partition key 'nope'"),
        ("t.year = '1'", "unsupported"),
        ("year = (SELECT 1)", "unsupported"),
        ("year IN (SELECT year FROM t)", "unsupported"),
        ("year IN ()", "at least one"),
        ("year = '1'; DROP TABLE x", "unsupported"),
        ("DROP TABLE x", "unsupported"),
        ("upper(year) = 'X'", "unsupported"),
        ("year = 'a' || 'b'", "unsupported"),
        ("year ILIKE 'x'", "unsupported"),
        ("year LIKE region", "string literal"),
        ("year LIKE 'x' ESCAPE '!!'", "single character"),
        ("year LIKE 'x!' ESCAPE '!'", "escape character"),
        ("year", "unsupported"),
        ("year IS TRUE", "unsupported"),
        ("day > 'abc'", "not a number"),
        ("x" * 3000, "longer than"),
    ],
)
def test_bad_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        compile_partition_filter(expression, KEYS)


def test_non_numeric_value_under_numeric_key_is_null() -> None:
    test = compile_partition_filter("day > 0", KEYS)
    assert not test(("2024", "01", "oops", "eu"))
    assert compile_partition_filter("day IS NULL", KEYS)(("2024", "01", "oops", "eu"))


def test_order_key_sorts_numbers_numerically() -> None:
    keys = (Column("year", "string"), Column("n", "bigint"))
    values = [("2024", "10"), ("2024", "9"), ("2023", "100"), ("2024", HIVE_NULL), ("2024", "-1")]
    ordered = sorted(values, key=partition_order_key(keys))
    assert ordered == [
        ("2023", "100"),
        ("2024", "-1"),
        ("2024", "9"),
        ("2024", "10"),
        ("2024", HIVE_NULL),
    ]


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("ev*", "events", True),
        ("ev*", "sevents", False),
        ("EV*", "events", True),
        ("events", "events_x", False),
        ("a|b", "b", True),
        ("ev.*", "events", True),
        ("e?vents", "vents", True),
        (r"a\*", "a*", True),
        ("a.c", "abc", True),
    ],
)
def test_name_patterns(pattern: str, name: str, matches: bool) -> None:
    assert (compile_name_pattern(pattern).fullmatch(name) is not None) is matches


@pytest.mark.parametrize(
    "pattern", ["[", "(a", "a{2,1}", "(a+)+", "(a|aa)+", r"(a)\1", "*a*b*c*d", "x" * 300]
)
def test_unsafe_or_invalid_name_patterns(pattern: str) -> None:
    with pytest.raises(InvalidInputError):
        compile_name_pattern(pattern)
