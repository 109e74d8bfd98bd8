"""Long polling for GetQueryExecution, on the event loop.

Clients learn that a query finished by calling GetQueryExecution every poll interval
(PyAthena: 1 s by default, awswrangler: 0.25 s), so a 100 ms query costs them a whole
interval. When the execution asked about is running in this process, shoal holds the
answer until it finishes, up to ``LONG_POLL_SECONDS``, and then answers with the final
state: a client's first poll after a short query sees it finished. A query still
running after that gets its RUNNING answer as before; the answer's shape never
changes, only how soon it comes.

The wait holds no thread: the query worker resolves an asyncio future through the
loop (``QueryService.when_final``). The request is authenticated and authorized, and
its answer computed, before any wait; after one it is answered afresh.
"""

from __future__ import annotations

import asyncio

from shoal.api.context import Route
from shoal.queries.service import QueryService

LONG_POLL_SECONDS = 1.0


def waits(route: Route) -> bool:
    """Whether a request is a GetQueryExecution (the one operation that waits), in
    whichever protocol it came."""
    return route.service == "athena" and route.operation == "GetQueryExecution"


class FinalWaiter:
    """Done once one execution running here has stored its final state."""

    def __init__(self, queries: QueryService, query_id: str) -> None:
        self._queries = queries
        self._query_id = query_id
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()

    @classmethod
    def register(cls, queries: QueryService, query_id: str | None) -> FinalWaiter | None:
        """A waiter for execution ``query_id``, if it runs here.

        Registered before the request is answered, so a finish in between is not missed.
        """
        if query_id is None:
            return None
        waiter = cls(queries, query_id)
        return waiter if queries.when_final(query_id, waiter._wake) else None

    async def wait(self, timeout: float = LONG_POLL_SECONDS) -> bool:
        """Whether the execution finished within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Stop listening (the execution may still be running)."""
        self._queries.forget_final(self._query_id, self._wake)

    def _wake(self) -> None:
        # Called on the query's worker thread; the loop may already be shutting down.
        try:
            self._loop.call_soon_threadsafe(self._resolve)
        except RuntimeError:
            pass

    def _resolve(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
