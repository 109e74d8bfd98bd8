"""Bringing the catalog in line with what a crawl found, under the crawler's policies.

Tables are matched by location, so a table keeps its name (and any user-added
parameters) across crawls. Nothing is written when nothing changed: a table or
partition is updated only when its fingerprint (location, columns, formats,
SerDe, parameters) differs, so re-crawling unchanged data makes no new versions.

Policies, as Glue's ``SchemaChangePolicy``:

* ``update_behavior`` ``UPDATE_IN_DATABASE`` applies table changes; ``LOG`` only
  logs them (new partitions are still added: they are data, not schema).
* ``delete_behavior`` for tables (and partitions) whose data vanished:
  ``DELETE_FROM_DATABASE`` deletes them; ``DEPRECATE_IN_DATABASE`` marks tables with
  the ``DEPRECATED_BY_CRAWLER`` parameter (partitions are kept); ``LOG`` only logs.

A dry run goes through every decision and logs it, counting what would change,
but writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from shoal.catalog.model import (
    DELETE_FROM_DATABASE,
    DEPRECATE_IN_DATABASE,
    LOG,
    Partition,
    SchemaChangePolicy,
    Table,
)
from shoal.catalog.store import CatalogStore
from shoal.crawler.tables import (
    DEPRECATED_BY_CRAWLER,
    STAT_KEYS,
    UPDATED_BY_CRAWLER,
    DesiredTable,
    fingerprint,
    partition_for,
    table_fingerprint,
)
from shoal.errors import EntityNotFoundError


@dataclass
class ChangeCounts:
    """What a crawl changed (or, in a dry run, would change) in the catalog."""

    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0


def existing_tables(store: CatalogStore, database: str) -> list[Table]:
    """Tables of ``database``; none when it does not exist yet (a dry run's new database)."""
    try:
        return store.list_tables(database)
    except EntityNotFoundError:
        return []


def owned_tables(
    tables: Sequence[Table], roots: Sequence[str], crawler_name: str | None
) -> list[Table]:
    """Tables this crawler manages: written by it, located under one of its targets."""
    return [
        t
        for t in tables
        if t.parameters.get(UPDATED_BY_CRAWLER) == crawler_name
        and any(t.storage.location.startswith(root) for root in roots)
    ]


class CatalogSync:
    """Applies a crawl's desired tables to one database of the catalog."""

    def __init__(
        self,
        store: CatalogStore,
        database: str,
        crawler_name: str | None,
        policy: SchemaChangePolicy,
        dry_run: bool,
        log: Callable[[str], None],
    ) -> None:
        self.store = store
        self.database = database
        self.crawler_name = crawler_name
        self.policy = policy
        self.dry_run = dry_run
        self.log = log
        self.counts = ChangeCounts()

    def sync(
        self, desired: Sequence[DesiredTable], roots: Sequence[str], incremental: bool
    ) -> ChangeCounts:
        """Create, update and retire tables; ``incremental`` never retires anything."""
        existing = existing_tables(self.store, self.database)
        by_location = {t.storage.location: t for t in existing if t.view_original_text is None}
        names = {t.name for t in existing}
        matched: set[str] = set()
        for wanted in desired:
            current = by_location.get(wanted.table.storage.location)
            if current is None:
                self.create(wanted, names)
            else:
                matched.add(current.name)
                self.update(current, wanted, incremental)
        if not incremental:
            for table in owned_tables(existing, roots, self.crawler_name):
                if table.name not in matched:
                    self.retire(table)
        return self.counts

    # --- tables ---------------------------------------------------------------------

    def create(self, wanted: DesiredTable, names: set[str]) -> None:
        table = wanted.table
        if table.name in names:
            name = _free_name(table.name, names)
            self.log(f"table {table.name} already exists at another location; naming it {name}")
            table = replace(table, name=name)
        names.add(table.name)
        partitions = [partition_for(table, p) for p in wanted.partitions]
        self.log(f"created table {table.name} at {table.storage.location}")
        self.counts.tables_created += 1
        self.counts.partitions_added += len(partitions)
        if not self.dry_run:
            self.store.create_table(table)
            if partitions:
                self.store.create_partitions(partitions)

    def update(self, current: Table, wanted: DesiredTable, incremental: bool) -> None:
        params = {k: v for k, v in current.parameters.items() if k != DEPRECATED_BY_CRAWLER}
        params.update(wanted.table.parameters)
        if incremental:  # only new folders were read: keep the whole-table statistics
            params.update({k: current.parameters[k] for k in STAT_KEYS if k in current.parameters})
        new = replace(
            current,
            storage=wanted.table.storage,
            partition_keys=wanted.table.partition_keys,
            parameters=params,
        )
        effective = current
        if table_fingerprint(new) != table_fingerprint(current):
            effective = self.apply_table_change(current, new)
        keys_changed = [c.name for c in effective.partition_keys] != [
            c.name for c in current.partition_keys
        ]
        self.sync_partitions(effective, wanted.partitions, incremental, keys_changed)

    def apply_table_change(self, current: Table, new: Table) -> Table:
        what = _describe_change(current, new)
        if self.policy.update_behavior == LOG:
            self.log(f"table {current.name} changed ({what}); not updated: policy is LOG")
            return current
        self.log(f"updated table {current.name}: {what}")
        self.counts.tables_updated += 1
        if self.dry_run:
            return new
        return self.store.update_table(new, expected_version=current.version_id)

    def retire(self, table: Table) -> None:
        why = f"table {table.name}: no data found at {table.storage.location}"
        behavior = self.policy.delete_behavior
        if behavior == DELETE_FROM_DATABASE:
            self.log(f"{why}; deleted (DELETE_FROM_DATABASE)")
            self.counts.tables_deleted += 1
            if not self.dry_run:
                self.store.delete_table(self.database, table.name)
        elif behavior == DEPRECATE_IN_DATABASE:
            if table.parameters.get(DEPRECATED_BY_CRAWLER) is not None:
                return  # already marked by an earlier crawl
            self.log(f"{why}; marked {DEPRECATED_BY_CRAWLER} (DEPRECATE_IN_DATABASE)")
            self.counts.tables_updated += 1
            marker = {DEPRECATED_BY_CRAWLER: self.crawler_name or "crawl"}
            if not self.dry_run:
                params = {**table.parameters, **marker}
                self.store.update_table(replace(table, parameters=params), table.version_id)
        else:
            self.log(f"{why}; kept (delete behavior LOG)")

    # --- partitions -----------------------------------------------------------------

    def sync_partitions(
        self,
        table: Table,
        wanted: Sequence[Partition],
        incremental: bool,
        keys_changed: bool,
    ) -> None:
        existing: dict[tuple[str, ...], Partition] = {}
        if table.partition_keys or keys_changed:
            existing = {p.values: p for p in self.store.list_partitions(self.database, table.name)}
        if keys_changed and existing:
            self.log(f"table {table.name}: partition keys changed; replacing its partitions")
            self.delete_partitions(table, list(existing), force=True)
            existing = {}
        to_create: list[Partition] = []
        for partition in wanted:
            partition = partition_for(table, partition)
            old = existing.pop(partition.values, None)
            if old is None:
                to_create.append(partition)
            elif _partition_changed(old, partition):
                self.counts.partitions_updated += 1
                if not self.dry_run:
                    self.store.update_partition(partition)
        if to_create:
            self.log(f"table {table.name}: {len(to_create)} new partition(s)")
            self.counts.partitions_added += len(to_create)
            if not self.dry_run:
                self.store.create_partitions(to_create)
        if existing and not incremental:
            self.delete_partitions(table, list(existing), force=False)

    def delete_partitions(self, table: Table, values: list[tuple[str, ...]], force: bool) -> None:
        listed = ", ".join("/".join(v) for v in values[:5]) + (" …" if len(values) > 5 else "")
        if not force and self.policy.delete_behavior != DELETE_FROM_DATABASE:
            self.log(
                f"table {table.name}: {len(values)} partition(s) without data kept "
                f"({listed}); delete behavior is {self.policy.delete_behavior}"
            )
            return
        self.log(f"table {table.name}: deleted {len(values)} partition(s) without data ({listed})")
        self.counts.partitions_deleted += len(values)
        if not self.dry_run:
            self.store.delete_partitions(self.database, table.name, values)


def _partition_changed(old: Partition, new: Partition) -> bool:
    return fingerprint(old.storage) != fingerprint(new.storage) or dict(old.parameters) != dict(
        new.parameters
    )


def _free_name(name: str, taken: set[str]) -> str:
    n = 1
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def _describe_change(old: Table, new: Table) -> str:
    before = {c.name: c.type for c in old.columns}
    after = {c.name: c.type for c in new.columns}
    notes = [f"new column {n} {t}" for n, t in after.items() if n not in before]
    notes += [f"column {n} {before[n]} -> {t}" for n, t in after.items() if before.get(n, t) != t]
    notes += [f"column {n} dropped" for n in before if n not in after]
    if [c.name for c in old.partition_keys] != [c.name for c in new.partition_keys]:
        notes.append("partition keys changed")
    changed = sorted(
        k
        for k in set(old.parameters) | set(new.parameters)
        if old.parameters.get(k) != new.parameters.get(k)
    )
    if changed:
        notes.append("parameters " + ", ".join(changed))
    if old.storage.location != new.storage.location or not notes:
        notes.append("storage descriptor")
    return "; ".join(notes)
