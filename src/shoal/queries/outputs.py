"""``ResultOutputs``: where query results are written and how they are read back.

The default results bucket (``aws-athena-query-results-<account>-<region>``, created
on first use), the pool that stores a result's files side by side, and the
in-memory cache of Arrow results that pages are served from. The query service
answers GetQueryResults through it; its workers write and reuse results through it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from shoal.errors import InvalidRequestError
from shoal.queries.model import ACTIVE_STATES
from shoal.queries.results import ResultCache, StoredResult, load_result
from shoal.queries.store import ExecutionStore
from shoal.storage.base import Storage, parse_uri


class ResultOutputs:
    """Result files and the cache of results, for one query service.

    Args:
        storage: where result files live.
        executions: the stored executions (a result's location and columns).
        bucket: the default results bucket's name.
        cache_bytes: Arrow results kept in memory for paging.
        writers: threads storing one result's files at once.
    """

    def __init__(
        self,
        storage: Storage,
        executions: ExecutionStore,
        bucket: str,
        cache_bytes: int,
        writers: int,
    ) -> None:
        self.storage = storage
        self.executions = executions
        self.bucket = bucket
        self.cache = ResultCache(cache_bytes)
        # Store a result's files side by side, so their fsyncs overlap.
        self.file_writers = ThreadPoolExecutor(writers, thread_name_prefix="shoal-files")

    def ensure_bucket(self, folder: str) -> None:
        """Create the default results bucket on first use (other buckets must exist)."""
        bucket, _ = parse_uri(folder)
        if bucket == self.bucket and not self.storage.bucket_exists(bucket):
            self.storage.create_bucket(bucket)

    def result(self, query_id: str) -> StoredResult:
        """The whole result of a SUCCEEDED execution, from memory or its file."""
        cached = self.cache.get(query_id)
        if cached is not None:
            return cached
        record = self.executions.get(query_id)
        found = record.execution
        if found.state in ACTIVE_STATES:
            raise InvalidRequestError(f"Query has not yet finished. Current state: {found.state}")
        if found.state != "SUCCEEDED":
            raise InvalidRequestError(
                f"Query did not finish successfully. Final query state: {found.state}"
            )
        if not found.output_location or record.result_columns is None:
            raise InvalidRequestError(f"QueryExecution {query_id} has no stored result")
        loaded = load_result(
            self.storage, found.output_location, record.result_columns, found.update_count
        )
        self.cache.put(query_id, loaded)
        return loaded

    def close(self) -> None:
        """Wait for files being written; forget the cached results."""
        self.file_writers.shutdown(wait=True)
        self.cache.clear()
