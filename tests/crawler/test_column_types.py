"""The whole-column fast paths of CSV typing agree with typing value by value."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.crawler.infer import UNKNOWN, _column_type, csv_value_type, merge_types

VALUES = st.one_of(
    st.sampled_from(["", " ", "true", "FALSE", "0", "-0", "007", "1.5", ".5", "5.", "1e3", "x"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="0123456789.-+eE ", max_size=6),
)


def value_by_value(values: list[str]) -> object:
    merged = UNKNOWN
    for value in values:
        merged = merge_types(merged, csv_value_type(value))
    return merged


@settings(max_examples=400, deadline=None)
@given(st.lists(VALUES, max_size=12))
def test_column_type_equals_merging_each_value(values: list[str]) -> None:
    assert _column_type(values) == value_by_value(values)
