from __future__ import annotations

import pytest

from shoal.catalog.names import normalize_name, quote_identifier, unique_names, validate_name
from shoal.catalog.types import normalize_type, parse_type, widen
from shoal.errors import InvalidInputError, InvalidNameError


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("bigint", "bigint"),
        ("INTEGER", "int"),
        ("decimal(10, 2)", "decimal(10,2)"),
        ("varchar(100)", "varchar(100)"),
        ("array<string>", "array<string>"),
        ("map<string,array<bigint>>", "map<string,array<bigint>>"),
        ("struct<a:int, b:struct<c:double>>", "struct<a:int,b:struct<c:double>>"),
        ("array<struct<x:timestamp>>", "array<struct<x:timestamp>>"),
    ],
)
def test_types_parse_to_their_canonical_spelling(text: str, canonical: str) -> None:
    assert normalize_type(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "bignum",
        "array<string",
        "map<string>",
        "varchar",
        "int(3)",
        "struct<a int>",
        "decimal(a,b)",
        "string; DROP TABLE x",
    ],
)
def test_invalid_types_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_type(text)


@pytest.mark.parametrize(
    ("a", "b", "wider"),
    [
        ("int", "bigint", "bigint"),
        ("tinyint", "int", "int"),
        ("bigint", "double", "double"),
        ("boolean", "bigint", "string"),
        ("date", "timestamp", "timestamp"),
        ("bigint", "string", "string"),
        ("array<int>", "array<double>", "array<double>"),
        ("struct<a:int>", "struct<b:string,a:bigint>", "struct<a:bigint,b:string>"),
        ("struct<a:int>", "array<int>", "string"),
    ],
)
def test_widen_holds_both(a: str, b: str, wider: str) -> None:
    assert str(widen(parse_type(a), parse_type(b))) == wider
    assert str(widen(parse_type(b), parse_type(a))).startswith(wider.split("<")[0])


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Trip Distance (mi)", "trip_distance_mi"),
        ("Éclair", "eclair"),
        ("dt=1' OR '1'='1", "dt_1_or_1_1"),
        ("__x__", "x"),
        ("???", "col"),
        ("a" * 300, "a" * 255),
    ],
)
def test_derived_names_follow_athena_rules(raw: str, name: str) -> None:
    assert normalize_name(raw) == name


def test_unique_names_suffix_repeats() -> None:
    assert unique_names(["a", "b", "a", "a_1", "a"]) == ["a", "b", "a_2", "a_1", "a_3"]


def test_user_names_kept_when_glue_accepts_them() -> None:
    assert validate_name("blog-db") == "blog-db"
    assert validate_name("Sales") == "sales"
    for bad in ["", " x", "x\n", 'a"b', "a\x00b", "é" * 200]:
        with pytest.raises(InvalidNameError):
            validate_name(bad)


def test_quoting() -> None:
    assert quote_identifier("blog-db") == '"blog-db"'
    assert quote_identifier('we"ird') == '"we""ird"'
