"""The app's shared dataset cache: bounded by memory, idle entries dropped, one load per key however many visitors
ask at once. Real Datasets, real threads; a hand-moved clock where a test is about time passing."""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest

from promptlab.data.cache import DatasetCache, dataset_bytes
from promptlab.data.datasets import Dataset


def make_dataset(name: str, rows: int, text_chars: int = 100) -> Dataset:
    data = [{"text": f"{name} {i} " + "x" * text_chars, "label": "pos" if i % 2 else "neg", "idx": i}
            for i in range(rows)]
    return Dataset(name, {"train": data}, ("text", "label", "idx"), "label", ("neg", "pos"))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_estimate_is_close_to_the_memory_rows_take():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        dataset = make_dataset("m", 20_000, text_chars=300)
        measured = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.7 < dataset_bytes(dataset) / measured < 1.5, (dataset_bytes(dataset), measured)
    assert dataset_bytes(make_dataset("s", 2_000)) < dataset_bytes(make_dataset("l", 20_000)) / 5


def test_cache_is_bounded_by_memory_not_count():
    one = dataset_bytes(make_dataset("a", 5_000))
    cache = DatasetCache(max_bytes=int(2.5 * one), idle_seconds=3600)
    for name in "abcd":
        cache.get(name, lambda name=name: make_dataset(name, 5_000))
    assert cache.keys() == ["c", "d"] and cache.nbytes <= cache.max_bytes  # the least recently used went first
    cache.get("c", lambda: pytest.fail("kept datasets are not loaded again"))
    cache.get("e", lambda: make_dataset("e", 5_000))
    assert cache.keys() == ["c", "e"]
    huge = cache.get("huge", lambda: make_dataset("huge", 20_000))  # larger than the whole cache
    assert huge.name == "huge" and cache.keys() == ["c", "e"]


def test_datasets_nobody_uses_are_dropped():
    clock = Clock()
    cache = DatasetCache(max_bytes=10**9, idle_seconds=60, clock=clock)
    cache.get("left", lambda: make_dataset("left", 10))
    cache.get("stays", lambda: make_dataset("stays", 10))
    clock.now = 45
    cache.get("stays", lambda: pytest.fail("still fresh"))
    clock.now = 90  # "left" unused for 90 s, "stays" for 45 s
    assert cache.keys() == ["left", "stays"]  # nothing happens until someone asks
    cache.get("other", lambda: make_dataset("other", 10))
    assert cache.keys() == ["stays", "other"]


def test_idle_datasets_are_dropped_even_when_nobody_comes_back():
    cache = DatasetCache(max_bytes=10**9, idle_seconds=0.2)
    cache.get("upload.csv", lambda: make_dataset("upload", 1_000))
    deadline = time.monotonic() + 10
    while cache.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.keys() == [] and cache.nbytes == 0  # the sweeper dropped it, with no further get
    cache.get("again", lambda: make_dataset("again", 10))  # and a new sweeper watches the next one
    deadline = time.monotonic() + 10
    while cache.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.keys() == []


def test_visitors_asking_at_once_share_one_load_and_one_copy():
    cache = DatasetCache(max_bytes=10**9, idle_seconds=3600)
    loads, release = [], threading.Event()

    def load():
        loads.append(1)
        release.wait(5)
        return make_dataset("shared", 1_000)

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("key", load))) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # let every visitor arrive while the first load is under way
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(loads) == 1 and len(got) == 8 and all(dataset is got[0] for dataset in got)


def test_a_failed_load_reaches_every_waiter_and_is_not_kept():
    cache = DatasetCache(max_bytes=10**9, idle_seconds=3600)
    release = threading.Event()

    def failing():
        release.wait(5)
        raise ValueError("broken.csv, line 2: not valid JSON")

    errors = []

    def visit():
        try:
            cache.get("broken", failing)
        except ValueError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=visit) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(10)
    assert errors == ["broken.csv, line 2: not valid JSON"] * 3
    assert cache.keys() == []
    assert cache.get("broken", lambda: make_dataset("fixed", 3)).name == "fixed"  # the next try loads again


def test_the_app_keeps_its_datasets_in_a_bounded_cache(tmp_path, monkeypatch):
    from promptlab.ui import state

    assert isinstance(state._datasets, DatasetCache)
    monkeypatch.setattr(state, "_datasets", DatasetCache(max_bytes=10**9, idle_seconds=0.2))
    path = tmp_path / "mine.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    state.remember_upload(str(path))
    assert state.get_dataset(str(path)).labels == ("neg", "pos")
    assert state.get_dataset(str(path)) is state.get_dataset(str(path))
    deadline = time.monotonic() + 10
    while state._datasets.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state._datasets.keys() == []  # the visitor left: their upload no longer holds memory
