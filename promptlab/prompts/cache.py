"""A cache of compiled templates bounded by the size of what it keeps, not only by count."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict, namedtuple


class SourceCache:
    """A thread-safe LRU cache of `func(source)`, bounded by the total length of the sources it keeps, not only
    their number: a compiled template takes memory in proportion to its source."""

    Info = namedtuple("Info", "hits misses currsize chars")

    def __init__(self, func, max_chars: int, max_entries: int = 1024):
        self._func, self._max_chars, self._max_entries = func, max_chars, max_entries
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock, self._chars, self._hits, self._misses = threading.Lock(), 0, 0, 0
        functools.update_wrapper(self, func)

    def __call__(self, source: str):
        items = self._items
        value = items.get(source, items)  # a hit takes no lock (each OrderedDict call is atomic): it is per render
        if value is not items:
            self._hits += 1
            try:
                items.move_to_end(source)
            except KeyError:  # evicted by another thread meanwhile
                pass
            return value
        value = self._func(source)  # outside the lock: compiling takes a while, and errors are not cached
        with self._lock:
            self._misses += 1
            if source not in self._items:
                self._items[source] = value
                self._chars += len(source)
            while self._items and (self._chars > self._max_chars or len(self._items) > self._max_entries):
                self._chars -= len(self._items.popitem(last=False)[0])
        return value

    def cache_info(self) -> Info:
        with self._lock:
            return self.Info(self._hits, self._misses, len(self._items), self._chars)

    def cache_clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = self._hits = self._misses = 0
