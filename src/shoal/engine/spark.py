"""The distributed engine: Apache Spark, reached through Spark Connect (``sc://host:port``).

shoal keeps the catalog, permissions, partition pruning, audit and result files; Spark
only runs the statement. Per query:

* each planned table becomes a DataFrame over exactly the files shoal planned
  (``DataFile.path``: local paths as ``file:``, ``s3://`` as ``s3a://``), read with
  the catalog's schema and format options; partition columns are the planned
  partition values, one literal per partition (Spark never lists a folder);
* each such DataFrame is kept as a temporary view of the session while the table and
  its planned files are unchanged (``spark_views``: Spark analyses a table once, not
  per query), and the statement, written as Spark SQL, names those views (a table
  whose files' versions are unknown is sent as a DataFrame with the statement in the
  same ``SparkSession.sql`` command); Spark runs it under a job tag, which a cancel
  interrupts;
* the answer comes back as Arrow (``DataFrame.toArrow``).

Bytes scanned are Spark's own: the ``filesSize`` metric of its file scans, reported
through Spark Connect's execution info. Spark reads whole planned files' worth of
that metric (it counts the files it opened, not the column chunks), so it equals the
planned files' sizes; where the metric is absent (an empty table), the planned sizes
count. Because the figure is known before running, the bytes cutoff refuses a query
up front instead of stopping it halfway.

What this engine cannot run fails with ``UnsupportedSqlError`` naming Spark and the
gap: table formats other than Parquet, JSON and CSV (``capabilities``, checked by the
runner), CSV tables skipping more than one header line, and complex-typed columns in
text tables (``CAPABILITIES``, checked here).

The plan's Athena tree is written as Spark SQL by ``spark_dialect.to_spark``, which
keeps Athena's answers where Spark's would differ.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa

from shoal.catalog.model import Column
from shoal.engine.athena import TableRef
from shoal.engine.base import (
    EXECUTING,
    QUERY_STATEMENTS,
    CancelToken,
    DataFile,
    Engine,
    QueryResult,
    ResolvedQuery,
    TableScan,
    WriteResult,
    WriteTarget,
)
from shoal.engine.base import Capabilities as EngineCapabilities
from shoal.engine.spark_dialect import quote, spark_type, string_literal, to_spark
from shoal.engine.spark_views import MAX_VIEWS, ScanViews
from shoal.engine.spark_writes import WRITES, output_columns, text_error, writer
from shoal.engine.written import (
    as_folder,
    clear,
    engine_folder,
    move_staged,
    partition_folders,
    written_files,
)
from shoal.errors import (
    BytesScannedCutoffError,
    EngineUnavailableError,
    InvalidInputError,
    QueryCancelledError,
    QueryFailedError,
    UnsupportedSqlError,
)
from shoal.storage.base import Storage, join_uri, parse_uri

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.connect.session import SparkSession

log = logging.getLogger(__name__)

ENGINE_NAME = "Spark"
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_POLL_SECONDS = 0.05
# Retries of a call to a Spark Connect server that does not answer: backoff from 50 ms
# growing 4x to 8 s, five times (~15 s). The client's default retries for at least ten
# minutes, which left every query on a stopped server hanging, its cancel too.
CONNECT_RETRIES = 5
CONNECT_MAX_BACKOFF_MS = 8_000

# Session settings every shoal session starts with: Athena's answers are in UTC, and
# like Trino, Spark's ANSI mode fails on overflow and bad casts instead of NULLs.
SESSION_SETTINGS: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
}


@dataclass(frozen=True)
class Capabilities:
    """What Spark reads of the catalog's tables; anything else fails naming the gap."""

    formats: frozenset[str]
    text_header_lines: int  # the most header lines a text table may skip
    complex_types_in_text: bool


CAPABILITIES = Capabilities(
    formats=frozenset({"parquet", "json", "csv"}),
    text_header_lines=1,
    complex_types_in_text=False,
)


def s3a_settings(
    endpoint: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    region: str | None = None,
) -> dict[str, str]:
    """Hadoop S3A options for an S3-compatible endpoint (path-style, as shoal's own)."""
    settings = {"fs.s3a.path.style.access": "true", "fs.s3a.impl.disable.cache": "true"}
    if endpoint:
        settings["fs.s3a.endpoint"] = endpoint
        settings["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https")).lower()
    if region:
        settings["fs.s3a.endpoint.region"] = region
    if access_key_id and secret_access_key:
        settings["fs.s3a.access.key"] = access_key_id
        settings["fs.s3a.secret.key"] = secret_access_key
        settings["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
    return settings


class SparkEngine(Engine):
    """Runs resolved queries on a Spark Connect server, many at a time.

    Args:
        url: the Spark Connect address, ``sc://host:port``.
        settings: Spark session settings on top of ``SESSION_SETTINGS`` (S3A options
            from ``s3a_settings`` among them).
    """

    name = ENGINE_NAME
    capabilities = EngineCapabilities(statements=QUERY_STATEMENTS, formats=CAPABILITIES.formats)

    def __init__(
        self,
        url: str,
        settings: Mapping[str, str] | None = None,
        storage: Storage | None = None,
        max_views: int = MAX_VIEWS,
    ) -> None:
        """``storage``: the storage shoal's lake is on; given it, Spark writes CTAS,
        INSERT and UNLOAD files itself (``write``, ``spark_writes.WRITES``).
        ``max_views``: planned tables kept as temporary views (``spark_views``)."""
        from pyspark.errors import PySparkException
        from pyspark.sql.connect.client.retries import DefaultPolicy
        from pyspark.sql.connect.session import SparkSession

        self._url = url
        # No setting yet: the builder would send them under the client's default retries.
        self._spark: SparkSession = SparkSession.builder.remote(url).create()
        retries = DefaultPolicy(max_retries=CONNECT_RETRIES, max_backoff=CONNECT_MAX_BACKOFF_MS)
        self._spark.client.set_retry_policies([retries])
        try:
            for key, value in {**SESSION_SETTINGS, **(settings or {})}.items():
                self._spark.conf.set(key, value)
        except PySparkException as err:
            self._spark.release_session_on_close = False  # nothing to release it with
            self._spark.stop()  # closes the channel
            raise self._unavailable(err) or QueryFailedError(spark_message(err)) from err
        self._views = ScanViews(self._spark, self._frame, max_views)
        self._storage = storage
        if storage is not None:
            self.capabilities = replace(SparkEngine.capabilities, writes=WRITES)

    def gaps(self, query: ResolvedQuery) -> list[str]:
        """The declared gaps, and what of a text table Spark cannot read (``CAPABILITIES``)."""
        found = super().gaps(query)
        for scan in query.scans:
            if self.capabilities.reads(scan.format):  # an unread format is a gap already
                try:
                    check_supported(scan)
                except UnsupportedSqlError as err:  # "… cannot read table db.t: why"
                    found.append(err.message.removeprefix(f"the {ENGINE_NAME} engine cannot read "))
        return found

    def execute(self, query: ResolvedQuery, cancel: CancelToken | None = None) -> QueryResult:
        planned = self._admit(query)
        with self._tagged(cancel), self._statement(query) as frame:
            table = frame.toArrow()
        if query.explain:
            lines = "\n".join(str(v) for v in table.column(0).to_pylist()).splitlines()
            return QueryResult(pa.table({"plan": lines}), 0)
        return QueryResult(normalize(table), scanned_bytes(frame, planned))

    def result_schema(self, query: ResolvedQuery) -> pa.Schema:
        """The statement's columns as Spark analyses them (no job runs)."""
        from pyspark.sql.pandas.types import to_arrow_schema

        self._admit(query)
        with self._tagged(None), self._statement(query) as frame:
            schema = frame.schema
        return normalize(to_arrow_schema(schema, timezone="UTC").empty_table()).schema

    def write(
        self, query: ResolvedQuery, target: WriteTarget, cancel: CancelToken | None = None
    ) -> WriteResult:
        """Spark's own writers write the rows; they never reach this process.

        CTAS and UNLOAD write straight into their (empty) folder. INSERT writes into a
        staging folder below the table's, ``_shoal-staging-<query id>/`` (hidden from
        readers by its ``_``), and the files are then moved into the table's
        partition folders (``Storage.move``: a rename on local folders): that tells
        this statement's files from any other writer's, and puts rows of an existing
        partition into its folder wherever it is. The files written are listed
        through shoal's storage afterwards; on any failure or a cancel the folder
        written (or the staging folder) is cleared, so nothing is left.

        Rows written: an ``Observation`` counts them as the write runs (Spark
        Connect returns no metrics for a write command). Bytes scanned: the planned
        files' sizes, which is what Spark's ``filesSize`` scan metric reports for a
        query (``scanned_bytes``) -- the metric itself is not returned for writes.
        """
        storage = self._storage
        writable = self.capabilities.writable(
            target.format, target.compression, bool(target.bucketed_by)
        )
        if storage is None or not writable:
            return super().write(query, target, cancel)
        planned = self._admit(query)
        folder = target.location
        if target.append:
            folder = f"{as_folder(target.location)}_shoal-staging-{target.query_id}/"
        try:
            rows = self._save(query, target, spark_path(engine_folder(storage, folder)), cancel)
            files = written_files(storage, folder, target.partitioned_by, target.max_partitions)
            if target.append:
                uris, partitions = move_staged(
                    storage, files, target.location, target.partition_folders
                )
            else:
                uris = [join_uri(parse_uri(folder)[0], f.key) for f in files]
                partitions = partition_folders(files, folder, target.partitioned_by)
        except BaseException:
            clear(storage, folder, settle=True)
            raise
        if target.append:
            clear(storage, folder)  # what is left of the staging folder
        return WriteResult(tuple(uris), partitions, rows, planned)

    def _save(
        self, query: ResolvedQuery, target: WriteTarget, path: str, cancel: CancelToken | None
    ) -> int:
        """Write the statement's rows, cast as ``target`` says, into ``path`` (as Spark
        names it) with Spark's writer for the format; the number of rows written."""
        from pyspark.sql.connect import functions as F  # noqa: N812 - Spark's own idiom
        from pyspark.sql.connect.observation import Observation

        rows = Observation(f"shoal_rows_{uuid.uuid4().hex}")
        source, options = writer(target)
        with self._tagged(cancel), self._statement(query) as frame:
            # Positional names: the query's own may repeat or be empty.
            frame = frame.toDF(*(f"shoal_c{i}" for i in range(len(frame.columns))))
            frame = frame.selectExpr(*output_columns(frame.columns, target))
            # Spark Connect's Observation; pyspark's hints name the classic one.
            frame = frame.observe(rows, F.count(F.lit(1)).alias("rows"))  # type: ignore[arg-type]
            save = frame.write.format(source).options(**options).mode("append")
            save.partitionBy(*target.partitioned_by).save(path)
        return int(rows.get["rows"])

    def close(self) -> None:
        self._spark.stop()

    def _frame(self, scan: TableScan) -> DataFrame:
        """``scan``'s rows: its planned files read as the catalog says, with partitions."""
        by_partition: dict[tuple[str, ...], list[DataFile]] = {}
        for file in scan.files:
            by_partition.setdefault(file.partition_values, []).append(file)
        if not by_partition:
            return self._spark.sql(empty_select(scan))
        frames = []
        for values, files in by_partition.items():
            frame = self._read(scan, [spark_path(f.path) for f in files])
            if scan.partition_keys:
                frame = frame.selectExpr("*", *partition_columns(scan.partition_keys, values))
            frames.append(frame)
        result = frames[0]
        for frame in frames[1:]:
            result = result.unionByName(frame)
        return result

    def _read(self, scan: TableScan, paths: list[str]) -> DataFrame:
        fmt = scan.format
        kind = fmt.classification.lower()
        reader = self._spark.read.format(kind)
        if kind == "parquet":
            return reader.schema(ddl_schema(scan.columns)).load(paths)
        if kind == "json":
            return reader.schema(ddl_schema(scan.columns)).load(paths)
        # Text: every field read as text, then cast the way Hive reads a field (a value
        # that does not parse is NULL, never an error).
        text = {column.name: "string" for column in scan.columns}
        options = {
            "sep": fmt.delimiter,
            "quote": fmt.quote_char or "",  # empty: no quoting (LazySimpleSerDe)
            "header": str(fmt.skip_header_lines == 1).lower(),
            "mode": "PERMISSIVE",
            "nullValue": fmt.null_format if fmt.null_format is not None else "",
        }
        if fmt.escape_char:
            options["escape"] = fmt.escape_char
        frame = reader.options(**options).schema(ddl_schema_of(text)).load(paths)
        return frame.selectExpr(
            *(
                f"try_cast({quote(c.name)} AS {spark_type(c.type)}) AS {quote(c.name)}"
                for c in scan.columns
            )
        )

    def _admit(self, query: ResolvedQuery) -> int:
        """The planned bytes, once every table is readable and within the cutoff."""
        for scan in query.scans:
            check_supported(scan)
        planned = sum(f.size for scan in query.scans for f in scan.files)
        if query.max_bytes_scanned is not None and planned > query.max_bytes_scanned:
            raise BytesScannedCutoffError(query.max_bytes_scanned, planned)
        return planned

    @contextmanager
    def _statement(self, query: ResolvedQuery) -> Iterator[DataFrame]:
        """The statement as one DataFrame: its Spark SQL over the planned tables, each
        a temporary view kept while the table is unchanged (``spark_views``), or, where
        a file's version is unknown, a DataFrame sent in the same command. The views
        stay until the block ends."""
        with self._views.hold(query.scans) as kept:
            views: dict[str, TableScan] = {}
            frames: dict[str, DataFrame] = {}
            for scan, name in zip(query.scans, kept, strict=True):
                if name is None:
                    name = f"shoal_scan_{uuid.uuid4().hex}"
                    frames[name] = self._frame(scan)
                views[name] = scan
            names = {(s.database.lower(), s.table.lower()): name for name, s in views.items()}
            schemas = {TableRef(*key): columns for key, columns in query.schemas.items()}
            sql = to_spark(query.tree, query.database, schemas, names)
            if query.explain:
                sql = f"EXPLAIN FORMATTED {sql}"
            args = list(query.parameters) or None
            yield self._spark.sql(with_placeholders(sql, frames), args=args, **frames)

    @contextmanager
    def _tagged(self, cancel: CancelToken | None) -> Iterator[None]:
        """Run the block's Spark jobs under a fresh tag, which a cancel interrupts;
        Spark's errors become shoal's (QueryCancelledError once cancelled)."""
        from pyspark.errors import PySparkException

        tag = f"shoal-{uuid.uuid4().hex}"
        done = threading.Event()
        watcher = None
        if cancel is not None:
            watcher = threading.Thread(target=self._watch, args=(tag, cancel, done), daemon=True)
            watcher.start()
        self._spark.addTag(tag)
        if cancel is not None:
            cancel.enter(EXECUTING)  # Spark runs and hands over the rows in one call
        try:
            yield
        except PySparkException as err:
            if cancel is not None and cancel.cancelled:
                raise QueryCancelledError(f"Query {cancel.reason}") from err
            unavailable = self._unavailable(err)
            if unavailable is not None:
                raise unavailable from err
            refused = text_error(str(err))
            if refused is not None:
                raise InvalidInputError(refused) from err
            raise QueryFailedError(spark_message(err)) from err
        finally:
            self._spark.removeTag(tag)
            done.set()
            if watcher is not None:
                watcher.join()

    def _watch(self, tag: str, cancel: CancelToken, done: threading.Event) -> None:
        from pyspark.errors import PySparkException

        while not done.wait(_POLL_SECONDS):
            if cancel.cancelled:
                try:
                    self._spark.interruptTag(tag)
                except PySparkException as err:  # the server is gone: so is the query
                    log.warning("Spark: interrupting %s failed: %s", tag, spark_message(err))
                return

    def _unavailable(self, err: Exception) -> EngineUnavailableError | None:
        """Spark's error as shoal's when the server does not answer, else None."""
        if "StatusCode.UNAVAILABLE" not in str(err) and "RETRIES_EXCEEDED" not in str(err):
            return None
        where = self._url.split("/;", 1)[0]  # its parameters may hold a token
        return EngineUnavailableError(
            f"{ENGINE_NAME}: the Spark Connect server at {where} does not answer"
            " (retried for about 15 s); run the query again once it is back"
        )


def check_supported(scan: TableScan) -> None:
    """Refuse a table this engine cannot read as the catalog describes it."""
    fmt = scan.format
    where = f"table {scan.database}.{scan.table}"
    if fmt.classification.lower() not in CAPABILITIES.formats:
        raise UnsupportedSqlError(
            f"the {ENGINE_NAME} engine cannot read {where}: format {fmt.classification!r}"
            f" (it reads {', '.join(sorted(CAPABILITIES.formats))})"
        )
    if fmt.classification.lower() != "csv":
        return
    if fmt.skip_header_lines > CAPABILITIES.text_header_lines:
        raise UnsupportedSqlError(
            f"the {ENGINE_NAME} engine cannot read {where}: it skips"
            f" {fmt.skip_header_lines} header lines (Spark skips at most one)"
        )
    for column in scan.columns:
        if _is_complex(column.type):
            raise UnsupportedSqlError(
                f"the {ENGINE_NAME} engine cannot read {where}: column {column.name} is"
                f" {column.type} in a text table"
            )


def with_placeholders(sql: str, frames: Mapping[str, object]) -> str:
    """``sql`` as ``SparkSession.sql`` formats it: braces doubled, each frame's name
    (a unique ``shoal_scan_<hex>``) turned into its ``{placeholder}``. Without frames
    Spark does not format the statement, so it stays as it is."""
    if not frames:
        return sql
    text = sql.replace("{", "{{").replace("}", "}}")
    for name in frames:
        text = re.sub(rf"\b{name}\b", "{" + name + "}", text)
    return text


def spark_path(path: str) -> str:
    """A planned file as Spark names it: ``s3a://`` for S3, ``file:`` for local paths."""
    if path.startswith("s3://"):
        return "s3a://" + path[len("s3://") :]
    if "://" in path:
        return path
    return "file://" + path


def _is_complex(hive: str) -> bool:
    return hive.strip().lower().startswith(("array", "map", "struct"))


def ddl_schema(columns: Sequence[Column]) -> str:
    return ddl_schema_of({c.name: spark_type(c.type) for c in columns})


def ddl_schema_of(types: Mapping[str, str]) -> str:
    return ", ".join(f"{quote(name)} {type_}" for name, type_ in types.items())


def partition_columns(keys: Sequence[Column], values: Sequence[str]) -> list[str]:
    """The partition values of a file, as Spark SQL expressions typed as the catalog says."""
    return [
        f"CAST({'NULL' if value == HIVE_NULL_PARTITION else string_literal(value)}"
        f" AS {spark_type(key.type)}) AS {quote(key.name)}"
        for key, value in zip(keys, values, strict=True)
    ]


def empty_select(scan: TableScan) -> str:
    """A query of no rows with ``scan``'s columns (a table with no planned files)."""
    columns = [*scan.columns, *scan.partition_keys]
    fields = ", ".join(f"CAST(NULL AS {spark_type(c.type)}) AS {quote(c.name)}" for c in columns)
    return f"SELECT {fields} WHERE false"


def scanned_bytes(frame: DataFrame, planned: int) -> int:
    """Spark's ``filesSize`` over its file scans; ``planned`` where it reported none."""
    info = frame.executionInfo
    metrics = info.metrics if info is not None else None
    if metrics is None:
        return planned
    sizes = [
        value.value
        for plan in metrics._metrics  # noqa: SLF001 - the public API only renders text
        if plan.name.startswith("Scan ")
        for value in plan.metrics
        if value.name == "filesSize"
    ]
    return int(sum(sizes)) if sizes else planned


def normalize(table: pa.Table) -> pa.Table:
    """Spark's timestamps come as UTC instants; Athena's are zone-less (session is UTC)."""
    fields = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            field = field.with_type(pa.timestamp(field.type.unit))
        fields.append(field)
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema == table.schema else table.cast(schema)


def spark_message(err: Exception) -> str:
    """Spark's error without its JVM stack trace."""
    text = str(err).split("\n\nJVM stacktrace:", 1)[0].strip()
    return f"{ENGINE_NAME}: {text}"


__all__ = ["CAPABILITIES", "SparkEngine", "s3a_settings"]
