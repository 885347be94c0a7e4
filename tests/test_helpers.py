"""The shared toy task is what the other tests assume."""

from __future__ import annotations

from helpers import write_task


def test_toy_task_loads_with_both_splits_and_labels(tmp_path):
    from promptlab.data.datasets import load_dataset

    ds = load_dataset(str(write_task(tmp_path / "data")))
    assert set(ds.splits) == {"train", "validation"}
    assert ds.labels == ("negative", "positive")
    assert len(ds.rows("train")) == 64
