"""``StateDatabase``'s prepared statements answer exactly as SQLAlchemy's own path,
on SQLite and PostgreSQL: same rows, same types, same errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from shoal.catalog.connection import StateDatabase
from shoal.queries.schema import workgroups

BY_NAME = select(workgroups).where(workgroups.c.name == bindparam("name"))
ALL = select(workgroups.c.name, workgroups.c.configuration).order_by(workgroups.c.name)
INSERT = insert(workgroups).values(
    {c.name: bindparam(c.name, type_=c.type) for c in workgroups.columns}
)
DISABLE = (
    update(workgroups)
    .where(workgroups.c.name == bindparam("name"), workgroups.c.state == bindparam("expected"))
    .values(state=bindparam("new_state", type_=workgroups.c.state.type))
)


@pytest.fixture
def state(catalog_url: str) -> Iterator[StateDatabase]:
    database = StateDatabase(catalog_url)
    yield database
    database.close()


def row(name: str) -> dict[str, object]:
    return {
        "name": name,
        "state": "ENABLED",
        "description": None,
        "configuration": {"output_location": f"s3://r/{name}/", "nested": [1, None, "x"]},
        "creation_time": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    }


def test_prepared_statements_answer_as_sqlalchemy_does(state: StateDatabase) -> None:
    assert state.execute(INSERT, row("b")) == 1
    with state.write() as conn:
        conn.execute(insert(workgroups).values(**row("a")))
    for name in ("a", "b"):
        with state.read() as conn:
            expected = dict(conn.execute(BY_NAME, {"name": name}).one()._mapping)
        found = state.first(BY_NAME, {"name": name})
        assert found == expected
        assert found is not None and found["creation_time"].tzinfo is not None
    assert state.first(BY_NAME, {"name": "missing"}) is None
    with state.read() as conn:
        listed = [dict(r._mapping) for r in conn.execute(ALL)]
    assert state.rows(ALL, {}) == listed
    assert [r["name"] for r in listed] == ["a", "b"]


def test_prepared_writes_count_rows_and_refuse_duplicates(state: StateDatabase) -> None:
    state.execute(INSERT, row("a"))
    with pytest.raises(IntegrityError):
        state.execute(INSERT, row("a"))
    change = {"name": "a", "expected": "ENABLED", "new_state": "DISABLED"}
    assert state.execute(DISABLE, change) == 1
    assert state.execute(DISABLE, change) == 0  # compare-and-set: no longer ENABLED
    found = state.first(BY_NAME, {"name": "a"})
    assert found is not None and found["state"] == "DISABLED"
    state.execute(INSERT, row("b"))  # the refused insert left nothing open behind


def test_values_must_come_through_bind_parameters(state: StateDatabase) -> None:
    with pytest.raises(ValueError, match="bindparam"):
        state.first(select(workgroups).where(workgroups.c.name == "a"), {})
