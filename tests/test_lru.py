"""The LRU map shared by the caches: entries, then weights, bound it."""

from __future__ import annotations

from shoal.lru import LruCache


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LruCache[str] = LruCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # now b is the least recently used
    cache.put("c", "C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


def test_weights_bound_the_entries_together() -> None:
    cache: LruCache[list[int]] = LruCache(100, max_weight=10, weigh=len)
    cache.put("four", [0] * 4)
    cache.put("five", [0] * 5)
    assert len(cache) == 2
    cache.put("three", [0] * 3)  # 12 > 10: the oldest goes
    assert cache.get("four") is None and len(cache) == 2
    cache.put("five", [0])  # replacing an entry replaces its weight
    cache.put("six", [0] * 6)
    assert cache.get("three") is not None and cache.get("six") is not None
    cache.put("huge", [0] * 11)  # heavier than all allowed: not kept, nothing evicted
    assert cache.get("huge") is None and cache.get("six") is not None


def test_clear_forgets_entries_and_weights() -> None:
    cache: LruCache[list[int]] = LruCache(100, max_weight=10, weigh=len)
    cache.put("nine", [0] * 9)
    cache.clear()
    cache.put("ten", [0] * 10)  # fits: the cleared weight is gone too
    assert len(cache) == 1 and cache.get("ten") is not None
