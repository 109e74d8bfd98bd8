"""Read what dbt built, the way Athena would find it, and compare with an expected table.

The table's location and partitions come from the Glue catalog (boto3 against shoal);
the rows come from the Parquet files under those locations, read with pyarrow from the
server's lake folder, so shoal's query engine has no say in what is checked.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pa_ds

Row = tuple[Any, ...]


def read_table(glue: Any, lake: Path, database: str, name: str) -> pa.Table:
    """Every row of ``database.name`` with the catalog's columns in the catalog's order:
    its files' columns (NULL where an older file lacks one, as Athena reads it), then
    the partition values as strings."""
    table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    keys = [key["Name"] for key in table.get("PartitionKeys", [])]
    if not keys:
        return _conform(_read_files(lake, table["StorageDescriptor"]["Location"]), columns)
    parts = []
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
    for page in pages:
        for partition in page["Partitions"]:
            rows = _read_files(lake, partition["StorageDescriptor"]["Location"])
            for key, value in zip(keys, partition["Values"], strict=True):
                rows = rows.append_column(key, pa.array([value] * rows.num_rows, pa.string()))
            parts.append(_conform(rows, columns + keys))
    return pa.concat_tables(parts, promote_options="permissive")


def differences(name: str, expected: pa.Table, actual: pa.Table, keys: list[str]) -> list[str]:
    """What differs between the two tables (empty when they hold the same rows).

    Rows are matched on ``keys``; floating-point sums may differ in the last digits
    (their order of addition is the engine's), so they compare with a tolerance.
    """
    if actual.column_names != expected.column_names:
        return [f"{name}: columns {actual.column_names}, expected {expected.column_names}"]
    want, got = _keyed(expected, keys), _keyed(actual, keys)
    found = []
    if len(got) != actual.num_rows:
        found.append(f"{name}: {actual.num_rows - len(got)} rows share a key {keys}")
    for key in sorted(want.keys() - got.keys(), key=repr):
        found.append(f"{name}: missing row {want[key]}")
    for key in sorted(got.keys() - want.keys(), key=repr):
        found.append(f"{name}: unexpected row {got[key]}")
    for key in sorted(want.keys() & got.keys(), key=repr):
        if not _same_row(want[key], got[key]):
            found.append(f"{name}: row {got[key]}, expected {want[key]}")
    return found


def _read_files(lake: Path, location: str) -> pa.Table:
    bucket_and_key = location.removeprefix("s3://").rstrip("/")
    return pa_ds.dataset(lake / bucket_and_key, format="parquet").to_table()


def _conform(rows: pa.Table, names: list[str]) -> pa.Table:
    present = set(rows.column_names)
    return pa.table({n: rows[n] if n in present else pa.nulls(rows.num_rows) for n in names})


def _keyed(table: pa.Table, keys: list[str]) -> dict[Row, Row]:
    names = table.column_names
    rows = (tuple(row[n] for n in names) for row in table.to_pylist())
    return {tuple(_plain(row[names.index(k)]) for k in keys): row for row in rows}


def _plain(value: Any) -> Any:
    # Keys compare by value whatever the integer width or date type the engine chose.
    return value.isoformat() if isinstance(value, dt.date) else value


def _same_row(want: Row, got: Row) -> bool:
    return all(_same(w, g) for w, g in zip(want, got, strict=True))


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9)
    return bool(want == got)
