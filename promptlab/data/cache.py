"""A shared cache of loaded datasets, bounded by the memory they take (not their number) and emptied of what
nobody uses.

    cache = DatasetCache(max_bytes=2_000_000_000, idle_seconds=1800)
    dataset = cache.get(("reviews.csv", None), lambda: load_untrusted("reviews.csv", local_files=True))

Two callers asking for the same key at once share one load and one copy (the second waits for the first; a failed
load is not kept, and both get its error). When the datasets kept would take more than `max_bytes`, the least
recently used go. A dataset nobody asked for in `idle_seconds` is dropped, by a background thread while anything is
kept, so that the datasets of visitors who left do not stay in memory. A dataset larger than the whole cache is
returned but not kept. Sizes are estimates (`dataset_bytes`). Thread-safe.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass

from promptlab.data.datasets import Dataset

SAMPLE_ROWS = 1000  # rows per split measured by `dataset_bytes`


@dataclass
class _Entry:
    dataset: Dataset
    nbytes: int
    used: float  # the clock's time of the last get


class DatasetCache:
    def __init__(self, max_bytes: int, idle_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.max_bytes, self.idle_seconds, self._clock = max_bytes, idle_seconds, clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # least recently used first
        self._loading: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    def get(self, key: Hashable, load: Callable[[], Dataset]) -> Dataset:
        """The dataset kept under `key`, else `load()`'s (one load however many callers ask at once)."""
        with self._lock:
            self._drop_idle()
            entry = self._entries.get(key)
            if entry is not None:
                entry.used = self._clock()
                self._entries.move_to_end(key)
                return entry.dataset
            pending = self._loading.get(key)
            loader = pending is None
            if loader:
                pending = self._loading[key] = Future()
        if not loader:
            return pending.result()  # raises the loader's error
        try:
            dataset = load()
            nbytes = dataset_bytes(dataset)
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._loading[key]
            self._keep(key, dataset, nbytes)
        pending.set_result(dataset)
        return dataset

    @property
    def nbytes(self) -> int:
        """The estimated memory of the datasets kept."""
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _keep(self, key: Hashable, dataset: Dataset, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        self._entries[key] = _Entry(dataset, nbytes, self._clock())
        total = sum(entry.nbytes for entry in self._entries.values())
        while total > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            total -= oldest.nbytes
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=_sweep, args=(weakref.ref(self),), name="promptlab-dataset-cache",
                                             daemon=True)
            self._sweeper.start()

    def _drop_idle(self) -> None:
        now = self._clock()
        for key in [key for key, entry in self._entries.items() if now - entry.used > self.idle_seconds]:
            del self._entries[key]


def _sweep(cache_ref: weakref.ref) -> None:
    """Drop idle entries every so often while anything is kept (and while the cache exists); then stop."""
    while True:
        cache = cache_ref()
        if cache is None:
            return
        interval = min(60.0, max(0.05, cache.idle_seconds / 2))
        del cache  # hold no reference while sleeping
        time.sleep(interval)
        cache = cache_ref()
        if cache is None:
            return
        with cache._lock:
            cache._drop_idle()
            if not cache._entries:
                cache._sweeper = None
                return
        del cache


def dataset_bytes(dataset: Dataset) -> int:
    """An estimate of the memory a Dataset's rows take (dicts and their values; column names are shared), from up to
    `SAMPLE_ROWS` rows of each split spread over it."""
    total = sys.getsizeof(dataset.splits)
    for rows in dataset.splits.values():
        total += sys.getsizeof(rows)
        if rows:
            sample = rows[:: max(1, len(rows) // SAMPLE_ROWS)]
            per_row = sum(sys.getsizeof(row) + sum(map(sys.getsizeof, row.values())) for row in sample) / len(sample)
            total += int(per_row * len(rows))
    return total
