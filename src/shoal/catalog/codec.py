"""Catalog dataclasses to and from JSON-ready dicts, for the store's JSON columns.

Explicit field by field on purpose: the stored shape is a file format that must
survive refactors of ``model.py``. Readers tolerate missing optional keys so older
rows still load after a field is added.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from shoal.catalog.model import (
    Column,
    Crawler,
    CrawlTarget,
    SchemaChangePolicy,
    SerDeInfo,
    SortColumn,
    StorageDescriptor,
    Table,
)

JsonDict = dict[str, Any]


def frozen_map(mapping: Mapping[str, Any] | None) -> Mapping[str, str]:
    """A read-only ``str -> str`` mapping, as the frozen dataclasses hold."""
    return MappingProxyType({str(k): str(v) for k, v in (mapping or {}).items()})


def params_to_json(mapping: Mapping[str, str]) -> dict[str, str]:
    """A plain dict of a parameters mapping."""
    return dict(mapping)


def values_key(values: Sequence[str]) -> str:
    """The canonical text of a partition's values: unique per distinct tuple."""
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


# --- columns and storage ---------------------------------------------------------------


def column_to_json(column: Column) -> JsonDict:
    """A column as ``{"name", "type", "comment"}``."""
    return {"name": column.name, "type": column.type, "comment": column.comment}


def column_from_json(data: Mapping[str, Any]) -> Column:
    """The column stored by ``column_to_json``."""
    return Column(name=data["name"], type=data["type"], comment=data.get("comment"))


def columns_to_json(columns: Sequence[Column]) -> list[JsonDict]:
    """Columns as a list, in order."""
    return [column_to_json(c) for c in columns]


def columns_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[Column, ...]:
    """The columns stored by ``columns_to_json``."""
    return tuple(column_from_json(c) for c in data)


def serde_to_json(serde: SerDeInfo) -> JsonDict:
    """A SerDe as ``{"serialization_library", "parameters"}``."""
    return {
        "serialization_library": serde.serialization_library,
        "parameters": params_to_json(serde.parameters),
    }


def serde_from_json(data: Mapping[str, Any]) -> SerDeInfo:
    """The SerDe stored by ``serde_to_json``."""
    return SerDeInfo(
        serialization_library=data.get("serialization_library"),
        parameters=frozen_map(data.get("parameters")),
    )


def storage_to_json(storage: StorageDescriptor) -> JsonDict:
    """A storage descriptor with its columns and SerDe."""
    return {
        "location": storage.location,
        "columns": columns_to_json(storage.columns),
        "input_format": storage.input_format,
        "output_format": storage.output_format,
        "compressed": storage.compressed,
        "serde": serde_to_json(storage.serde),
        "parameters": params_to_json(storage.parameters),
        "bucket_columns": list(storage.bucket_columns),
        "number_of_buckets": storage.number_of_buckets,
        "sort_columns": [{"name": c.name, "order": c.order} for c in storage.sort_columns],
    }


def storage_from_json(data: Mapping[str, Any]) -> StorageDescriptor:
    """The storage descriptor stored by ``storage_to_json``."""
    return StorageDescriptor(
        location=data["location"],
        columns=columns_from_json(data.get("columns", ())),
        input_format=data.get("input_format"),
        output_format=data.get("output_format"),
        compressed=bool(data.get("compressed", False)),
        serde=serde_from_json(data.get("serde") or {}),
        parameters=frozen_map(data.get("parameters")),
        bucket_columns=tuple(data.get("bucket_columns") or ()),
        number_of_buckets=int(data.get("number_of_buckets", -1)),
        sort_columns=tuple(
            SortColumn(c["name"], int(c.get("order", 1))) for c in data.get("sort_columns") or ()
        ),
    )


# --- tables (version snapshots) -----------------------------------------------------------


def _time_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time_from_json(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def table_to_json(table: Table) -> JsonDict:
    """The whole table, as kept in ``table_versions.snapshot``."""
    return {
        "database": table.database,
        "name": table.name,
        "storage": storage_to_json(table.storage),
        "partition_keys": columns_to_json(table.partition_keys),
        "table_type": table.table_type,
        "parameters": params_to_json(table.parameters),
        "description": table.description,
        "owner": table.owner,
        "view_original_text": table.view_original_text,
        "view_expanded_text": table.view_expanded_text,
        "create_time": _time_to_json(table.create_time),
        "update_time": _time_to_json(table.update_time),
        "version_id": table.version_id,
    }


def table_from_json(data: Mapping[str, Any]) -> Table:
    """The table stored by ``table_to_json`` (times come back timezone-aware)."""
    return Table(
        database=data["database"],
        name=data["name"],
        storage=storage_from_json(data["storage"]),
        partition_keys=columns_from_json(data.get("partition_keys", ())),
        table_type=data["table_type"],
        parameters=frozen_map(data.get("parameters")),
        description=data.get("description"),
        owner=data.get("owner"),
        view_original_text=data.get("view_original_text"),
        view_expanded_text=data.get("view_expanded_text"),
        create_time=_time_from_json(data.get("create_time")),
        update_time=_time_from_json(data.get("update_time")),
        version_id=int(data["version_id"]),
    )


# --- crawlers ------------------------------------------------------------------------------


def crawler_definition_to_json(crawler: Crawler) -> JsonDict:
    """What a user defines about a crawler (not its name, database, state or times)."""
    return {
        "targets": [
            {"path": t.path, "exclusions": list(t.exclusions), "sample_size": t.sample_size}
            for t in crawler.targets
        ],
        "table_prefix": crawler.table_prefix,
        "schema_change_policy": {
            "update_behavior": crawler.schema_change_policy.update_behavior,
            "delete_behavior": crawler.schema_change_policy.delete_behavior,
        },
        "recrawl_behavior": crawler.recrawl_behavior,
        "schedule": crawler.schedule,
        "schedule_paused": crawler.schedule_paused,
        "description": crawler.description,
        "configuration": crawler.configuration,
        "role": crawler.role,
    }


def crawler_definition_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``Crawler`` from a stored definition."""
    policy = data.get("schema_change_policy") or {}
    return {
        "targets": tuple(
            CrawlTarget(
                path=t["path"],
                exclusions=tuple(t.get("exclusions", ())),
                sample_size=t.get("sample_size"),
            )
            for t in data.get("targets", ())
        ),
        "table_prefix": data.get("table_prefix", ""),
        "schema_change_policy": SchemaChangePolicy(**policy),
        "recrawl_behavior": data["recrawl_behavior"],
        "schedule": data.get("schedule"),
        "schedule_paused": bool(data.get("schedule_paused", False)),
        "description": data.get("description"),
        "configuration": data.get("configuration"),
        "role": data.get("role"),
    }
