"""information_schema: the catalog as tables, filtered as the caller's listings are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from shoal.catalog.model import Database, Table
from shoal.errors import TableNotFoundError
from shoal.queries.context import Visibility

from .conftest import Lake


def test_tables_lists_each_table_of_each_database(lake: Lake) -> None:
    # The question pandas.to_sql (PyAthena) asks before it writes a table.
    sql = (
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'sample' AND table_name = 'trips'"
    )
    assert lake.rows(sql) == [{"table_name": "trips"}]
    every = lake.rows(
        "SELECT table_catalog, table_schema, table_name, table_type "
        "FROM information_schema.tables ORDER BY table_schema, table_name"
    )
    expected = [
        {"table_catalog": "awsdatacatalog", "table_schema": db.name, "table_name": t.name,
         "table_type": "VIEW" if t.table_type == "VIRTUAL_VIEW" else "BASE TABLE"}
        for db in lake.catalog.list_databases()
        for t in lake.catalog.list_tables(db.name)
    ]  # fmt: skip
    assert every == sorted(expected, key=lambda r: (r["table_schema"], r["table_name"]))
    assert any(r["table_name"] == "trips" for r in every)


def test_columns_in_order_with_trino_types(lake: Lake) -> None:
    trips = lake.catalog.get_table("sample", "trips")
    rows = lake.rows(
        "SELECT column_name, ordinal_position, data_type FROM information_schema.columns "
        "WHERE table_schema = 'sample' AND table_name = 'trips' ORDER BY ordinal_position"
    )
    names = [c.name for c in (*trips.columns, *trips.partition_keys)]
    assert [r["column_name"] for r in rows] == names
    assert [r["ordinal_position"] for r in rows] == list(range(1, len(names) + 1))
    assert {r["column_name"]: r["data_type"] for r in rows}["year"] == "varchar"
    schemata = lake.rows("SELECT schema_name FROM information_schema.schemata")
    assert {"sample", "information_schema"} <= {r["schema_name"] for r in schemata}


def test_rows_are_what_the_caller_may_list(lake: Lake) -> None:
    def tables(found: Sequence[Table]) -> list[Table]:
        return [t for t in found if t.name != "trips"]

    def databases(found: Sequence[Database]) -> list[Database]:
        return list(found)

    visible = Visibility(tables=tables, databases=databases)
    sql = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'trips'"
    assert lake.rows(sql, visible=visible) == [{"n": 0}]
    sql = "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'trips'"
    assert lake.rows(sql, visible=visible) == [{"n": 0}]


def test_an_unknown_information_schema_table_is_not_found(lake: Lake) -> None:
    with pytest.raises(TableNotFoundError, match="information_schema.nope"):
        lake.run("SELECT * FROM information_schema.nope")


def test_views_give_their_text_and_a_broken_one_no_text(fresh_lake: Lake) -> None:
    fresh_lake.run("CREATE VIEW sample.v AS SELECT 1 AS one")
    broken = replace(fresh_lake.catalog.get_table("sample", "v"), name="broken",
                     view_original_text="/* Presto View: not base64 */")  # fmt: skip
    fresh_lake.catalog.create_table(broken)
    rows = fresh_lake.rows(
        "SELECT table_name, view_definition FROM information_schema.views ORDER BY 1"
    )
    assert rows == [
        {"table_name": "broken", "view_definition": None},
        {"table_name": "v", "view_definition": "SELECT 1 AS one"},
    ]
