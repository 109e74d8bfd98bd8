"""The text lengths result columns inherit from the table columns they read.

Athena's ColumnInfo gives a ``varchar(10)`` column Precision 10 (and a ``char(3)``
one type ``char``, Precision 3). Arrow strings carry no length, so the result
columns' SQL types are worked out from the catalog's (sqlglot's typing) and written
into each field's metadata under ``SQL_TYPE_KEY``, where ColumnInfo reads them. Only
queries over a table with such a column pay for the typing (a few milliseconds).
"""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp

from shoal.engine.athena import result_types
from shoal.engine.base import SQL_TYPE_KEY
from shoal.queries.planner import Resolution

_BOUNDED_TEXT_TYPE = re.compile(r"\b(var)?char\s*\(", re.IGNORECASE)
_TEXT = (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR)


def mark_text_lengths(table: pa.Table, resolution: Resolution) -> pa.Table:
    """``table`` (a query's result) with each string column that reads a
    ``varchar(n)``/``char(n)`` column marked with that type."""
    if not _reads_bounded_text(resolution):
        return table
    schemas = {ref: (*t.columns, *t.partition_keys) for ref, t in resolution.tables.items()}
    types = result_types(resolution.tree, resolution.database, schemas)
    if types is None or len(types) != table.num_columns:
        return table  # sqlglot could not type this query: lengths stay unknown
    for index, data_type in enumerate(types):
        if _bounded(data_type) and pa.types.is_string(table.field(index).type):
            declared = data_type.sql(dialect="trino").lower().replace(" ", "")
            marked = table.field(index).with_metadata({SQL_TYPE_KEY: declared.encode()})
            table = table.set_column(index, marked, table.column(index))
    return table


def _reads_bounded_text(resolution: Resolution) -> bool:
    return any(
        _BOUNDED_TEXT_TYPE.search(column.type)
        for table in resolution.tables.values()
        for column in (*table.columns, *table.partition_keys)
    )


def _bounded(data_type: exp.DataType) -> bool:
    return data_type.this in _TEXT and bool(data_type.expressions)
