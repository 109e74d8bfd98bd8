"""ORC tables: DuckDB 1.5.5 has no ORC reader, so pyarrow reads the planned files.

The engine opens each planned file through the query's ``ScanFileSystem`` window
(``open_file``), so only planned files under the storage roots (or in remote
storage) can be read, and every byte pyarrow reads is counted in the query's bytes
scanned and stops it at a cutoff, as DuckDB's own reads do. Each file is read
whole, once (one ranged GET for remote storage; pyarrow's own reads of a file went
back to its footer and counted it twice), so an ORC query is charged its files'
sizes whatever it selects.

The rows become one Arrow table per scan, registered on the query's cursor under
``scans.orc_relation(scan)``; ``scans.scan_query`` selects from that name as it would
from ``read_parquet``. Columns are matched by name, case-insensitively (Athena's
default for ORC in engine version 3); a column a file lacks reads as NULL. Each row
carries its file's URL (``FILE_COLUMN``) and position in the plan (``READER_INDEX``,
as DuckDB's readers give it), by which the scan SQL finds its partition values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa
import pyarrow.orc as orc

from shoal.engine.base import CancelToken, TableScan
from shoal.engine.scans import FILE_COLUMN, READER_INDEX
from shoal.errors import QueryCancelledError, QueryFailedError

CLASSIFICATION = "orc"


def read_scan(
    scan: TableScan,
    open_file: Callable[[str], AbstractContextManager[Any]],
    url: Callable[[str], str],
    cancel: CancelToken,
) -> pa.Table:
    """Every planned file of ``scan`` as one table: the catalog's columns, then the file.

    Raises:
        QueryCancelledError: ``cancel`` was set between two files.
        QueryFailedError: a file is not ORC, or pyarrow cannot read it.
    """
    names = [c.name for c in scan.columns]
    # The file's position, as DuckDB's readers give it (unless a column takes the name).
    indexed = READER_INDEX not in {n.lower() for n in names}
    parts = []
    for position, file in enumerate(scan.files):
        if cancel.cancelled:
            raise QueryCancelledError(f"query {cancel.reason}")
        with open_file(file.path) as handle:
            rows = _read_file(handle, names, file.path)
        rows = rows.append_column(FILE_COLUMN, pa.repeat(url(file.path), rows.num_rows))
        if indexed:
            rows = rows.append_column(READER_INDEX, pa.repeat(position, rows.num_rows))
        parts.append(rows)
    return pa.concat_tables(parts, promote_options="permissive")


def _read_file(handle: Any, names: Sequence[str], path: str) -> pa.Table:
    try:
        reader = orc.ORCFile(pa.BufferReader(handle.read()))
        in_file = {n.lower(): n for n in reader.schema.names}
        wanted = [in_file[n.lower()] for n in names if n.lower() in in_file]
        table = reader.read(columns=wanted)
    except (pa.ArrowException, OSError, ValueError) as err:  # a bad file: a plain OSError
        raise QueryFailedError(f"cannot read ORC file {path}: {err}") from None
    found = {n.lower(): table.column(n) for n in table.column_names}
    columns = [found.get(n.lower(), pa.nulls(table.num_rows)) for n in names]
    return pa.table(columns, names=list(names))
