"""Views: stored as Athena stores them, expanded on read, authorized through."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shoal.catalog.model import TABLE_TYPE_VIEW
from shoal.errors import AlreadyExistsError, InvalidInputError, TableNotFoundError
from shoal.queries.planner import view_definition

from .conftest import Lake


def test_view_round_trip_and_authorization_of_underlying_tables(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        "CREATE VIEW fares AS SELECT t.fare_amount, z.borough FROM trips t "
        "JOIN zones z ON t.pickup_location_id = z.locationid WHERE t.month = '01'"
    )
    view = lake.catalog.get_table("sample", "fares")
    assert view.table_type == TABLE_TYPE_VIEW
    assert view.view_original_text is not None
    assert view.view_original_text.startswith("/* Presto View: ")
    assert "trips" in view_definition(view).sql
    assert [(c.name, c.type) for c in view.columns] == [
        ("fare_amount", "double"),
        ("borough", "string"),
    ]
    direct = lake.rows(
        "SELECT z.borough, count(*) AS n FROM trips t JOIN zones z "
        "ON t.pickup_location_id = z.locationid WHERE t.month = '01' GROUP BY 1 ORDER BY 1"
    )
    seen: list[Any] = []
    through_view = lake.run(
        "SELECT borough, count(*) AS n FROM fares GROUP BY 1 ORDER BY 1",
        authorize=seen.extend,
    )
    assert through_view.rows.to_pylist() == direct
    assert {(a.table, a.mode) for a in seen} == {
        ("fares", "read"),
        ("trips", "read"),
        ("zones", "read"),
    }


def test_create_or_replace_and_drop(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run("CREATE VIEW v AS SELECT 1 AS one")
    with pytest.raises(AlreadyExistsError):
        lake.run("CREATE VIEW v AS SELECT 2 AS two")
    lake.run("CREATE OR REPLACE VIEW v AS SELECT 2 AS two")
    assert lake.rows("SELECT * FROM v") == [{"two": 2}]
    lake.run("DROP VIEW v")
    lake.run("DROP VIEW IF EXISTS v")
    with pytest.raises(InvalidInputError, match="does not exist"):
        lake.run("DROP VIEW v")
    with pytest.raises(InvalidInputError, match="not a view"):
        lake.run("DROP VIEW trips")


def test_a_view_over_a_missing_table_is_refused(fresh_lake: Lake) -> None:
    with pytest.raises(TableNotFoundError):
        fresh_lake.run("CREATE VIEW broken AS SELECT * FROM nowhere")


def test_the_same_text_follows_catalog_changes(fresh_lake: Lake) -> None:
    """A query text is resolved once and reused (``Planner.prepare``) only while every
    table and view it read is unchanged."""
    lake = fresh_lake
    query = "SELECT * FROM v"
    lake.run("CREATE VIEW v AS SELECT 1 AS one")
    assert lake.rows(query) == [{"one": 1}]
    assert lake.rows(query) == [{"one": 1}]
    lake.run("CREATE OR REPLACE VIEW v AS SELECT 2 AS two")
    assert lake.rows(query) == [{"two": 2}]
    lake.run("CREATE OR REPLACE VIEW v AS SELECT count(*) AS n FROM zones")
    zones = lake.rows("SELECT count(*) AS n FROM zones")
    assert lake.rows(query) == zones
    # A change under the view: the table it reads gets a new definition.
    table = lake.catalog.get_table("sample", "zones")
    lake.catalog.update_table(replace(table, parameters={**table.parameters, "note": "x"}))
    assert lake.rows(query) == zones
    lake.run("DROP VIEW v")
    with pytest.raises(TableNotFoundError):
        lake.run(query)


def test_the_same_text_checks_its_parameters_every_time(fresh_lake: Lake) -> None:
    query = "SELECT count(*) AS n FROM zones WHERE locationid > ?"
    first = fresh_lake.rows(query, parameters=[0])
    assert first and first[0]["n"] > 0
    with pytest.raises(InvalidInputError, match="expected 1 but found 0"):
        fresh_lake.run(query)
    assert fresh_lake.rows(query, parameters=[0]) == first
