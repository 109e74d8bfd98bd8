"""Workgroups, named queries and prepared statements, kept in the state database.

``primary`` always exists (created on first use); it cannot be deleted. Validation
follows Athena's limits: workgroup names ``[a-zA-Z0-9._-]{1,128}``, statement names
``[a-zA-Z_][a-zA-Z0-9_@:]{1,256}``, BytesScannedCutoffPerQuery at least 10 MB.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shoal.catalog.connection import StateDatabase
from shoal.errors import (
    InvalidRequestError,
    ResourceNotFoundError,
    WorkGroupNotFoundError,
)
from shoal.queries.model import (
    DISABLED,
    ENABLED,
    ENGINE_VERSIONS,
    MIN_BYTES_SCANNED_CUTOFF,
    PRIMARY,
    NamedQuery,
    PreparedStatement,
    WorkGroup,
    WorkGroupConfiguration,
)
from shoal.queries.schema import named_queries, prepared_statements, workgroups
from shoal.storage.base import parse_uri

_WORKGROUP_RE = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
_STATEMENT_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_@:]{1,256}$")
_WORKGROUP_BY_NAME = select(workgroups).where(workgroups.c.name == bindparam("name"))
_ALL_WORKGROUPS = select(workgroups).order_by(workgroups.c.name)


def _now() -> datetime:
    return datetime.now(UTC)


def validate_configuration(configuration: WorkGroupConfiguration) -> WorkGroupConfiguration:
    """Check a workgroup configuration against Athena's rules; return it or raise."""
    cutoff = configuration.bytes_scanned_cutoff_per_query
    if cutoff is not None and cutoff < MIN_BYTES_SCANNED_CUTOFF:
        raise InvalidRequestError(
            f"BytesScannedCutoffPerQuery must be at least {MIN_BYTES_SCANNED_CUTOFF} bytes"
        )
    if configuration.output_location:
        parse_uri(configuration.output_location)
    if configuration.selected_engine_version not in ENGINE_VERSIONS:
        raise InvalidRequestError(
            f"EngineVersion {configuration.selected_engine_version!r} is not available: "
            f"use {' or '.join(ENGINE_VERSIONS)}"
        )
    return configuration


def _check_workgroup_name(name: str) -> str:
    if not _WORKGROUP_RE.match(name):
        raise InvalidRequestError(f"invalid workgroup name {name!r}: use [a-zA-Z0-9._-]{{1,128}}")
    return name


class WorkGroupStore:
    """Workgroups, named queries and prepared statements over the state database."""

    def __init__(self, state: StateDatabase, default_output_location: str) -> None:
        self.state = state
        self.default_output_location = default_output_location

    # --- workgroups ----------------------------------------------------------------

    def ensure_primary(self) -> None:
        """Create ``primary`` with the default output location when it is missing."""
        config = WorkGroupConfiguration(output_location=self.default_output_location)
        try:
            self.create_workgroup(
                WorkGroup(PRIMARY, description="The default workgroup", configuration=config)
            )
        except InvalidRequestError:
            pass  # already there (maybe created by another process just now)

    def create_workgroup(self, workgroup: WorkGroup) -> WorkGroup:
        """Create a workgroup; InvalidRequestError when the name is taken or invalid."""
        _check_workgroup_name(workgroup.name)
        if workgroup.state not in (ENABLED, DISABLED):
            raise InvalidRequestError(f"invalid workgroup state {workgroup.state!r}")
        validate_configuration(workgroup.configuration)
        stored = replace(workgroup, creation_time=_now())
        try:
            with self.state.write() as conn:
                conn.execute(insert(workgroups).values(**_workgroup_values(stored)))
        except IntegrityError:
            raise InvalidRequestError(f"WorkGroup {workgroup.name} already exists") from None
        return stored

    def get_workgroup(self, name: str) -> WorkGroup:
        """One workgroup; WorkGroupNotFoundError when missing."""
        row = self.state.first(_WORKGROUP_BY_NAME, {"name": name})  # asked by every start
        if row is None:
            raise WorkGroupNotFoundError(f"WorkGroup {name} is not found.")
        return _workgroup_from_row(row)

    def list_workgroups(self) -> list[WorkGroup]:
        """Every workgroup, by name."""
        return [_workgroup_from_row(row) for row in self.state.rows(_ALL_WORKGROUPS, {})]

    def update_workgroup(self, workgroup: WorkGroup) -> WorkGroup:
        """Replace a workgroup's state, description and configuration."""
        current = self.get_workgroup(workgroup.name)
        if workgroup.state not in (ENABLED, DISABLED):
            raise InvalidRequestError(f"invalid workgroup state {workgroup.state!r}")
        validate_configuration(workgroup.configuration)
        stored = replace(workgroup, creation_time=current.creation_time)
        with self.state.write() as conn:
            conn.execute(
                update(workgroups)
                .where(workgroups.c.name == workgroup.name)
                .values(**_workgroup_values(stored))
            )
        return stored

    def delete_workgroup(self, name: str, recursive: bool = False) -> None:
        """Delete a workgroup; with ``recursive`` also its named queries and prepared
        statements (Athena's RecursiveDeleteOption). ``primary`` cannot be deleted."""
        if name == PRIMARY:
            raise InvalidRequestError("the primary workgroup cannot be deleted")
        self.get_workgroup(name)
        with self.state.write() as conn:
            owned = _count_owned(conn, name)
            if owned and not recursive:
                raise InvalidRequestError(
                    f"WorkGroup {name} has {owned} named queries or prepared statements; "
                    "delete them first or use the recursive option"
                )
            conn.execute(delete(named_queries).where(named_queries.c.workgroup == name))
            conn.execute(delete(prepared_statements).where(prepared_statements.c.workgroup == name))
            conn.execute(delete(workgroups).where(workgroups.c.name == name))

    # --- named queries -------------------------------------------------------------

    def create_named_query(
        self,
        name: str,
        query_string: str,
        database: str | None = None,
        description: str | None = None,
        workgroup: str = PRIMARY,
    ) -> NamedQuery:
        """Save a query under a name; its id is a new UUID."""
        self.get_workgroup(workgroup)
        if not name or not query_string.strip():
            raise InvalidRequestError("a named query needs a name and a query string")
        query = NamedQuery(str(uuid.uuid4()), name, query_string, database, description, workgroup)
        with self.state.write() as conn:
            conn.execute(
                insert(named_queries).values(
                    id=query.named_query_id,
                    name=name,
                    description=description,
                    database=database,
                    query_string=query_string,
                    workgroup=workgroup,
                    create_time=_now(),
                )
            )
        return query

    def get_named_query(self, named_query_id: str) -> NamedQuery:
        with self.state.read() as conn:
            row = conn.execute(
                select(named_queries).where(named_queries.c.id == named_query_id)
            ).first()
        if row is None:
            raise InvalidRequestError(f"NamedQuery {named_query_id} was not found")
        return _named_from_row(row._mapping)

    def list_named_queries(self, workgroup: str = PRIMARY) -> list[NamedQuery]:
        """Named queries of ``workgroup``, oldest first."""
        with self.state.read() as conn:
            found = conn.execute(
                select(named_queries)
                .where(named_queries.c.workgroup == workgroup)
                .order_by(named_queries.c.create_time, named_queries.c.id)
            )
            return [_named_from_row(row._mapping) for row in found]

    def update_named_query(
        self,
        named_query_id: str,
        name: str,
        query_string: str,
        description: str | None = None,
    ) -> NamedQuery:
        current = self.get_named_query(named_query_id)
        with self.state.write() as conn:
            conn.execute(
                update(named_queries)
                .where(named_queries.c.id == named_query_id)
                .values(name=name, query_string=query_string, description=description)
            )
        return replace(current, name=name, query_string=query_string, description=description)

    def delete_named_query(self, named_query_id: str) -> None:
        self.get_named_query(named_query_id)
        with self.state.write() as conn:
            conn.execute(delete(named_queries).where(named_queries.c.id == named_query_id))

    # --- prepared statements ---------------------------------------------------------

    def put_prepared_statement(
        self, statement: PreparedStatement, *, create: bool
    ) -> PreparedStatement:
        """Create (``create=True``) or update a prepared statement of a workgroup."""
        if not _STATEMENT_RE.match(statement.statement_name):
            raise InvalidRequestError(f"invalid statement name {statement.statement_name!r}")
        self.get_workgroup(statement.workgroup_name)
        stored = replace(statement, last_modified_time=_now())
        values = {
            "query_statement": stored.query_statement,
            "description": stored.description,
            "last_modified_time": stored.last_modified_time,
        }
        key = _statement_key(statement.workgroup_name, statement.statement_name)
        with self.state.write() as conn:
            exists = conn.execute(select(prepared_statements.c.workgroup).where(*key)).first()
            if create and exists:
                raise InvalidRequestError(
                    f"Prepared statement {statement.statement_name} already exists"
                )
            if not create and not exists:
                raise ResourceNotFoundError(
                    f"Prepared statement {statement.statement_name} was not found"
                )
            if create:
                conn.execute(
                    insert(prepared_statements).values(
                        workgroup=statement.workgroup_name,
                        statement_name=statement.statement_name,
                        **values,
                    )
                )
            else:
                conn.execute(update(prepared_statements).where(*key).values(**values))
        return stored

    def get_prepared_statement(self, workgroup: str, name: str) -> PreparedStatement:
        with self.state.read() as conn:
            row = conn.execute(
                select(prepared_statements).where(*_statement_key(workgroup, name))
            ).first()
        if row is None:
            raise ResourceNotFoundError(f"Prepared statement {name} was not found")
        return _statement_from_row(row._mapping)

    def list_prepared_statements(self, workgroup: str = PRIMARY) -> list[PreparedStatement]:
        with self.state.read() as conn:
            found = conn.execute(
                select(prepared_statements)
                .where(prepared_statements.c.workgroup == workgroup)
                .order_by(prepared_statements.c.statement_name)
            )
            return [_statement_from_row(row._mapping) for row in found]

    def delete_prepared_statement(self, workgroup: str, name: str) -> None:
        self.get_prepared_statement(workgroup, name)
        with self.state.write() as conn:
            conn.execute(delete(prepared_statements).where(*_statement_key(workgroup, name)))


def _statement_key(workgroup: str, name: str) -> tuple[Any, Any]:
    return (
        prepared_statements.c.workgroup == workgroup,
        prepared_statements.c.statement_name == name,
    )


def _count_owned(conn: Connection, workgroup: str) -> int:
    named = conn.execute(
        select(named_queries.c.id).where(named_queries.c.workgroup == workgroup)
    ).all()
    prepared = conn.execute(
        select(prepared_statements.c.statement_name).where(
            prepared_statements.c.workgroup == workgroup
        )
    ).all()
    return len(named) + len(prepared)


def _workgroup_values(workgroup: WorkGroup) -> dict[str, Any]:
    return {
        "name": workgroup.name,
        "state": workgroup.state,
        "description": workgroup.description,
        "configuration": asdict(workgroup.configuration),
        "creation_time": workgroup.creation_time,
    }


def _workgroup_from_row(row: Any) -> WorkGroup:
    return WorkGroup(
        name=row["name"],
        state=row["state"],
        description=row["description"],
        configuration=WorkGroupConfiguration(**row["configuration"]),
        creation_time=row["creation_time"],
    )


def _named_from_row(row: Any) -> NamedQuery:
    return NamedQuery(
        named_query_id=row["id"],
        name=row["name"],
        query_string=row["query_string"],
        database=row["database"],
        description=row["description"],
        workgroup=row["workgroup"],
    )


def _statement_from_row(row: Any) -> PreparedStatement:
    return PreparedStatement(
        statement_name=row["statement_name"],
        query_statement=row["query_statement"],
        workgroup_name=row["workgroup"],
        description=row["description"],
        last_modified_time=row["last_modified_time"],
    )
