"""Grouping: which folders become tables, and which become their partitions.

The algorithm works bottom-up over the folder tree below the crawl target, in
one pass (each folder is visited once, each file's schema merged once):

1. **Files in one folder** are clustered by compatibility
   (``schemas.incompatibility``). A table's location is a folder, so one folder
   holds one schema: the largest cluster wins (ties: the first file's) and files
   of other clusters are skipped and logged with the reason.
2. **A folder with only files** is a table candidate of depth 0.
3. **A folder with only sub-folders** is a candidate of depth d+1 when every
   sub-folder is a candidate of the same depth d and their schemas are compatible
   one after the other (the running union absorbs drift: a new column or a
   widened type updates the schema and is logged).
4. Otherwise the folder **splits**: each sub-folder candidate becomes a table
   named after that sub-folder, its own files (if any) become a table named after
   the folder, and the log says why.
5. A candidate left at the target itself becomes one table named after the
   target's last path segment.
6. A folder that is already a table's location (``known_roots``) stays a table:
   it is emitted where it is and never absorbed by its parent, so a table keeps its
   root when a sibling folder disappears or a compatible one appears.

Within a table of depth d, each folder level below its root is a partition key:
when every folder at that level is ``key=value`` with the same key, the key is
the normalised ``key`` and the values are the text after ``=``, verbatim (they
are data — ``1' OR '1'='1`` is stored exactly); otherwise the key is
``partition_<level>`` and the value is the whole folder name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from shoal.catalog.names import normalize_name, unique_names
from shoal.crawler.classify import FileSchema
from shoal.crawler.schemas import GroupSchema, changes, incompatibility, merge
from shoal.storage.base import ObjectInfo


@dataclass(slots=True)  # slots: a crawl holds one per file
class CrawledFile:
    """A listed data file; ``schema`` is None when it was not sampled."""

    obj: ObjectInfo
    rel: str  # key relative to the crawl target
    schema: FileSchema | None = None
    folder: str = field(init=False)  # computed once: grouping asks for it per file, often

    def __post_init__(self) -> None:
        self.folder = self.rel.rpartition("/")[0]


@dataclass
class PartitionGroup:
    """One leaf folder of a table: its partition values and files."""

    values: tuple[str, ...]
    folder: str
    files: list[CrawledFile]


@dataclass
class TableGroup:
    """A table the data calls for: name, root folder, schema and partitions."""

    name: str
    folder: str  # relative to the target, '' for the target itself
    schema: GroupSchema
    partition_keys: tuple[str, ...]
    partitions: list[PartitionGroup]

    @property
    def files(self) -> list[CrawledFile]:
        return [f for p in self.partitions for f in p.files]


@dataclass
class _Node:
    path: str
    files: list[CrawledFile] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


@dataclass
class _Candidate:
    path: str
    depth: int
    schema: GroupSchema
    leaves: list[tuple[str, list[CrawledFile]]]


_SPLIT = object()  # a sub-tree that already emitted its tables


def group_files(
    files: Iterable[CrawledFile],
    root_name: str,
    table_prefix: str,
    log: Callable[[str], None],
    known_roots: frozenset[str] = frozenset(),
) -> list[TableGroup]:
    """Group listed (and sampled) files into tables; see the module docstring.

    ``known_roots`` are folders (relative to the target, '' for the target itself)
    that already are table locations.
    """
    grouper = _Grouper(root_name, table_prefix, log, known_roots)
    return grouper.run(_build_tree(files))


def _build_tree(files: Iterable[CrawledFile]) -> _Node:
    root = _Node("")
    index = {"": root}
    for f in files:
        _node_for(index, f.folder).files.append(f)
    return root


def _node_for(index: dict[str, _Node], path: str) -> _Node:
    node = index.get(path)
    if node is None:
        parent_path, _, name = path.rpartition("/")
        node = _Node(path)
        _node_for(index, parent_path).children[name] = node
        index[path] = node
    return node


class _Grouper:
    def __init__(
        self,
        root_name: str,
        prefix: str,
        log: Callable[[str], None],
        known_roots: frozenset[str] = frozenset(),
    ) -> None:
        self.root_name = root_name
        self.prefix = prefix
        self.log = log
        self.known_roots = known_roots
        self.tables: list[TableGroup] = []
        self.names: set[str] = set()

    def run(self, root: _Node) -> list[TableGroup]:
        result = self.visit(root)
        if isinstance(result, _Candidate):
            self.emit(result, self.root_name, "the target's data is one compatible group")
        return self.tables

    def visit(self, node: _Node) -> _Candidate | object | None:
        result = self.group(node)
        if node.path and node.path in self.known_roots and isinstance(result, _Candidate):
            self.emit(result, node.name, "its folder is already a table's location")
            return _SPLIT
        return result

    def group(self, node: _Node) -> _Candidate | object | None:
        results = [(name, self.visit(child)) for name, child in sorted(node.children.items())]
        own = self.own_candidate(node)
        subs = [(name, r) for name, r in results if isinstance(r, _Candidate)]
        split = any(r is _SPLIT for _, r in results)
        if not split and not subs:
            return own
        if split:
            reason = "some sub-folders already hold separate tables"
        elif own is not None:
            reason = "it holds data files both directly and in sub-folders"
        else:
            merged, reason = self.combine(node, subs)
            if merged is not None:
                return merged
        where = node.path or "the target"
        self.log(f"folder {where}: sub-folders become separate tables because {reason}")
        for name, cand in subs:
            self.emit(cand, name, f"sub-folder of {where}, which was split")
        if own is not None:
            self.emit(own, node.name or self.root_name, f"files directly in {where}")
        return _SPLIT

    def own_candidate(self, node: _Node) -> _Candidate | None:
        clusters: list[tuple[GroupSchema, list[CrawledFile]]] = []
        unsampled = [f for f in node.files if f.schema is None]
        source: FileSchema | None = None
        group: GroupSchema | None = None
        for f in node.files:
            if f.schema is None:
                continue
            if group is None or f.schema is not source:  # files often share one schema object
                source, group = f.schema, GroupSchema.of(f.schema)
            self.place(clusters, group, f)
        if not clusters:
            for f in unsampled:
                self.log(f"skipped {f.obj.uri}: no file in its folder could be sampled")
            return None
        clusters.sort(key=lambda c: -len(c[1]))  # stable: ties keep first-seen order
        schema, members = clusters[0]
        for other, rejected in clusters[1:]:
            why = incompatibility(schema, other)
            for f in rejected:
                self.log(
                    f"skipped {f.obj.uri}: its schema ({other.describe()}) does not fit the "
                    f"other files of its folder ({schema.describe()}): {why}; "
                    "a table location is a folder, so a folder holds one schema"
                )
        return _Candidate(node.path, 0, schema, [(node.path, members + unsampled)])

    def place(
        self,
        clusters: list[tuple[GroupSchema, list[CrawledFile]]],
        schema: GroupSchema,
        f: CrawledFile,
    ) -> None:
        for i, (current, members) in enumerate(clusters):
            if current is schema or current == schema:  # the common case: nothing to merge
                members.append(f)
                return
            if incompatibility(current, schema) is None:
                merged = merge(current, schema)
                self.log_drift(current, merged, f.obj.uri)
                clusters[i] = (merged, members)
                members.append(f)
                return
        clusters.append((schema, [f]))

    def combine(
        self, node: _Node, subs: Sequence[tuple[str, _Candidate]]
    ) -> tuple[_Candidate | None, str]:
        first_name, first = subs[0]
        schema, leaves = first.schema, list(first.leaves)
        for name, cand in subs[1:]:
            if cand.depth != first.depth:
                return None, (
                    f"sub-folder {name} has its files {cand.depth} folder level(s) deep "
                    f"and {first_name} {first.depth}"
                )
            why = incompatibility(schema, cand.schema)
            if why is not None:
                return None, (
                    f"sub-folder {name} ({cand.schema.describe()}) is incompatible with "
                    f"{first_name} ({schema.describe()}): {why}"
                )
            merged = merge(schema, cand.schema)
            self.log_drift(schema, merged, cand.path + "/")
            schema = merged
            leaves.extend(cand.leaves)
        return _Candidate(node.path, first.depth + 1, schema, leaves), ""

    def log_drift(self, before: GroupSchema, after: GroupSchema, where: str) -> None:
        if after is before:
            return
        for note in changes(before, after):
            self.log(f"schema drift at {where}: {note}; the table schema is updated, not split")

    def emit(self, cand: _Candidate, segment: str, why: str) -> None:
        name = self.unique_table_name(self.prefix + normalize_name(segment, fallback="table"))
        keys, values = _partitioning(cand)
        partitions = [
            PartitionGroup(vals, folder, files)
            for (folder, files), vals in zip(cand.leaves, values, strict=True)
        ]
        self.tables.append(TableGroup(name, cand.path, cand.schema, keys, partitions))
        where = cand.path or "the target"
        detail = f"partitioned by {', '.join(keys)}" if keys else "unpartitioned"
        self.log(
            f"table {name}: folder {where} ({cand.schema.describe()}, "
            f"{len(partitions)} folder(s), {detail}); {why}"
        )

    def unique_table_name(self, name: str) -> str:
        candidate, n = name, 0
        while candidate in self.names:
            n += 1
            candidate = f"{name}_{n}"
        if candidate != name:
            self.log(f"table name {name} is taken in this crawl; using {candidate}")
        self.names.add(candidate)
        return candidate


def _partitioning(cand: _Candidate) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Partition key names and each leaf's values (see the module docstring)."""
    start = len(cand.path) + 1 if cand.path else 0
    segments = [folder[start:].split("/") if cand.depth else [] for folder, _ in cand.leaves]
    keys: list[str] = []
    for level in range(cand.depth):
        level_keys = Counter(seg[level].partition("=")[0] for seg in segments)
        named = len(level_keys) == 1 and all("=" in seg[level] for seg in segments)
        if named:
            keys.append(normalize_name(next(iter(level_keys)), fallback=f"partition_{level}"))
        else:
            keys.append(f"partition_{level}")
            for seg in segments:
                seg[level] = "=" + seg[level]  # keep the whole folder name as the value
    values = [
        tuple(seg[level].partition("=")[2] for level in range(cand.depth)) for seg in segments
    ]
    return tuple(unique_names(keys)), values
