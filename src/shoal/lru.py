"""A small thread-safe LRU map for per-statement work worth remembering across queries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """At most ``size`` entries; the least recently used goes first.

    With ``weigh``, the entries' weights together stay within ``max_weight`` too (a
    value weighing more than that is not kept): for values that grow with what they
    describe, such as a folder's listing.
    """

    def __init__(
        self,
        size: int,
        max_weight: int | None = None,
        weigh: Callable[[V], int] | None = None,
    ) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._max_weight = max_weight
        self._weigh = weigh
        self._weights: dict[Hashable, int] = {}
        self._weight = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        weight = self._weigh(value) if self._weigh is not None else 0
        with self._lock:
            self._forget(key)
            if self._max_weight is not None and weight > self._max_weight:
                return
            self._entries[key] = value
            self._weights[key] = weight
            self._weight += weight
            while len(self._entries) > self._size or (
                self._max_weight is not None and self._weight > self._max_weight
            ):
                self._forget(next(iter(self._entries)))

    def _forget(self, key: Hashable) -> None:
        if self._entries.pop(key, None) is not None:
            self._weight -= self._weights.pop(key)

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The cached value, or ``make()``'s (cached unless it raises)."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weights.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._entries)
