"""One corpus of queries, run on every engine, against answers computed without shoal.

``GAPS`` declares, per engine, the cases it is known to answer differently and why:
such a case is expected to fail (strictly: one that starts passing fails the suite,
so the list stays true). Nothing is skipped silently.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from .conftest import BehaviourLake
from .corpus import CASES, Case

# Engine -> case name -> why its answer differs from the reference.
GAPS: dict[str, dict[str, str]] = {
    "duckdb": {},
    "spark": {},
    "spark-cluster": {},
}
# TPC-H queries whose reference answers assume semantics Athena does not share.
TPCH_SEMANTICS: dict[int, str] = {}


def normal(value: Any) -> Any:
    """Values comparable across engines: decimals and floats to 9 significant digits."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


def comparable(rows: list[tuple[Any, ...]], ordered: bool) -> list[Any]:
    found = [normal(row) for row in rows]
    return found if ordered else sorted(found, key=repr)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(lake: BehaviourLake, case: Case, request: pytest.FixtureRequest) -> None:
    gap = GAPS.get(lake.engine, {}).get(case.name)
    if gap:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    expected = comparable(case.expected(lake.data), case.ordered)
    assert comparable(lake.rows(case.sql), case.ordered) == expected


def _reference_rows(answer: str) -> list[list[str]]:
    """The rows of a reference answer: a header line, then one line per row, fields
    split at '|' (a one-column NULL is an empty line)."""
    lines = answer.split("\n")[1:]
    if lines and lines[-1] == "":
        lines.pop()  # the text ends with a newline
    return [line.split("|") for line in lines]


def _matches(value: Any, text: str) -> bool:
    if value is None:
        return text in ("", "NULL")
    if isinstance(value, int | float | Decimal):
        return math.isclose(float(value), float(text), rel_tol=1e-6, abs_tol=0.01)
    return str(value) == text


@pytest.mark.parametrize("number", range(1, 23), ids=[f"Q{n:02d}" for n in range(1, 23)])
def test_tpch_against_reference_answers(
    lake: BehaviourLake, number: int, request: pytest.FixtureRequest
) -> None:
    """TPC-H SF0.01, each query's rows against the reference answers that ship with
    DuckDB's tpch extension (in order: every TPC-H query orders its output)."""
    if number in TPCH_SEMANTICS:
        request.applymarker(pytest.mark.xfail(reason=TPCH_SEMANTICS[number], strict=True))
    found = lake.rows(lake.tpch_queries[number], database="tpch")
    reference = _reference_rows(lake.tpch_answers[number])
    assert len(found) == len(reference)
    for row, expected in zip(found, reference, strict=True):
        assert len(row) == len(expected)
        mismatched = [(v, t) for v, t in zip(row, expected, strict=True) if not _matches(v, t)]
        assert not mismatched, (row, expected)
