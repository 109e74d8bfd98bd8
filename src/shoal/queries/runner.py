"""Run one SQL statement against the catalog: the road every query takes.

parse (Athena dialect) -> resolve tables in the catalog -> authorize every table read
or written -> plan (files after partition pruning) -> execute on the engine -> write
data (CTAS / INSERT / UNLOAD) -> an outcome with rows and what was read.

The query-execution service (lifecycle, result files, history) calls
``StatementRunner.run`` and knows nothing of statement kinds; statement handlers
know nothing of executions.

SKELETON: the dataclasses and ``StatementRunner.run``'s signature are the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from shoal.catalog.store import CatalogStore
from shoal.engine.base import CancelToken, Engine
from shoal.storage.base import Storage

# Athena's StatementType values.
DML = "DML"
DDL = "DDL"
UTILITY = "UTILITY"


@dataclass(frozen=True)
class TableAccess:
    """One table a statement touches, and how: "read" or "write"."""

    database: str
    table: str
    mode: str


@dataclass(frozen=True)
class LocationAccess:
    """One storage location a statement writes to (CTAS, INSERT, UNLOAD)."""

    location: str


# Called with every table and location access before anything runs; raises to refuse.
Authorizer = Callable[[Sequence[TableAccess | LocationAccess]], None]


@dataclass(frozen=True)
class StatementContext:
    """Everything a statement needs besides its text."""

    query_id: str
    database: str = "default"
    catalog: str = "awsdatacatalog"
    parameters: Sequence[Any] = ()
    # Where CTAS without external_location puts its table: <output>/tables/<query_id>/
    output_location: str | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    bytes_scanned_cutoff: int | None = None
    authorize: Authorizer | None = None


@dataclass
class StatementOutcome:
    """What a statement produced.

    ``rows`` is the result set (for DDL/UTILITY, the lines Athena prints: SHOW TABLES
    gives one column of names). ``data_files`` lists files CTAS/INSERT/UNLOAD wrote,
    for the manifest.
    """

    statement_type: str  # DML | DDL | UTILITY
    substatement_type: str  # SELECT, CREATE_TABLE_AS_SELECT, INSERT, UNLOAD, SHOW_TABLES, ...
    rows: pa.Table
    bytes_scanned: int = 0
    accesses: tuple[TableAccess | LocationAccess, ...] = ()
    data_files: tuple[str, ...] = ()
    update_count: int | None = None
    planning_ms: float = 0.0
    engine_ms: float = 0.0


class StatementRunner:
    """Runs single statements against the catalog, storage and engine."""

    def __init__(self, catalog: CatalogStore, storage: Storage, engine: Engine) -> None:
        self.catalog = catalog
        self.storage = storage
        self.engine = engine

    def run(self, sql: str, context: StatementContext) -> StatementOutcome:
        """Run one statement. Raises a ShoalError subclass with a clear message."""
        raise NotImplementedError
