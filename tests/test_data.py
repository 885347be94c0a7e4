"""Dataset loading (every source and format), bad-input messages, the demo task and the few-shot samplers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from promptlab.data import datasets, hub, table
from promptlab.data.datasets import Dataset, load_dataset
from promptlab.data.sampling import sample_rows, sample_shots


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"text": "great blender", "label": "positive"},
    {"text": "这个耳机音质很好", "label": "positive"},
    {"text": "broke after a week", "label": "negative"},
]


# ---- loaders --------------------------------------------------------------------------------------------------------


def test_jsonl_file_is_one_split_named_after_its_stem(tmp_path):
    ds = load_dataset(str(write_jsonl(tmp_path / "train.jsonl", ROWS)))
    assert list(ds.splits) == ["train"]
    assert ds.rows("train") == ROWS
    assert ds.columns == ("text", "label")
    assert ds.label_column == "label"
    assert ds.labels == ("negative", "positive")
    assert ds.default_eval_split == ds.default_train_split == "train"
    assert list(load_dataset(write_jsonl(tmp_path / "reviews.jsonl", ROWS)).splits) == ["data"]
    assert list(load_dataset(str(write_jsonl(tmp_path / "sst2_dev.jsonl", ROWS))).splits) == ["dev"]


def test_jsonl_rows_get_every_column_and_nested_values_become_json(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"a": 1, "tags": ["好", "b"]}, {"b": None, "a": float("nan")}])
    ds = load_dataset(str(path))
    assert ds.rows("data") == [{"a": 1, "tags": '["好", "b"]', "b": None}, {"a": None, "tags": None, "b": None}]
    assert ds.label_column is None and ds.labels == ()


def test_json_array_file(tmp_path):
    path = tmp_path / "validation.json"
    path.write_text(json.dumps(ROWS, ensure_ascii=False, indent=2), encoding="utf-8")
    ds = load_dataset(str(path))
    assert ds.rows("validation") == ROWS


def test_csv_types_quoting_bom_and_chinese(tmp_path):
    path = tmp_path / "test.csv"
    text = 'text,stars,score,code,label\n"light, but loud",5,0.5,007,好评\nNA,,1,012,差评\n"说""很好""",3,2e1,,好评\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # Excel's "CSV UTF-8" starts with a BOM
    ds = load_dataset(str(path))
    assert ds.columns == ("text", "stars", "score", "code", "label")
    assert ds.rows("test") == [
        {"text": "light, but loud", "stars": 5, "score": 0.5, "code": "007", "label": "好评"},
        {"text": "NA", "stars": None, "score": 1.0, "code": "012", "label": "差评"},  # "NA" is text, not missing
        {"text": '说"很好"', "stars": 3, "score": 20.0, "code": None, "label": "好评"},
    ]
    assert ds.labels == ("好评", "差评")  # code-point order
    assert ds.label_counts("test") == {"好评": 2, "差评": 1}


def test_tsv_does_not_treat_quotes_specially(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text('sentence\tlabel\nit \'s a "great" film\t1\n"odd start\t0\n', encoding="utf-8")
    ds = load_dataset(str(path))
    assert [r["sentence"] for r in ds.rows("dev")] == ['it \'s a "great" film', '"odd start']
    assert [r["label"] for r in ds.rows("dev")] == [1, 0]  # raw values kept; labels are their str
    assert ds.labels == ("0", "1")
    assert ds.label_counts("dev") == {"0": 1, "1": 1}


def test_parquet_via_pandas_nan_and_nested(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": ["好", "bad"], "n": [1, 2], "x": [0.5, float("nan")], "tags": [["a"], ["b", "c"]],
                          "sentiment": ["pos", "neg"]})
    frame.to_parquet(tmp_path / "train.parquet")
    ds = load_dataset(str(tmp_path / "train.parquet"))
    assert ds.rows("train") == [
        {"text": "好", "n": 1, "x": 0.5, "tags": '["a"]', "sentiment": "pos"},
        {"text": "bad", "n": 2, "x": None, "tags": '["b", "c"]', "sentiment": "neg"},
    ]
    assert all(type(r["n"]) is int for r in ds.rows("train"))
    assert ds.label_column == "sentiment"


def test_parquet_written_by_datasets_keeps_class_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["pos", "neg"])})
    part = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 0]}, features=features)
    part.to_parquet(str(tmp_path / "train-00000-of-00001.parquet"))
    ds = load_dataset(str(tmp_path))
    assert [r["label"] for r in ds.rows("train")] == ["pos", "neg", "pos"]
    assert ds.labels == ("pos", "neg")  # class-label order, not sorted


def test_folder_of_split_files_in_any_format(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    (tmp_path / "validation.csv").write_text("text,label,extra\nok,positive,1\nmeh,negative,2\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("text\nno label here\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("ignored", encoding="utf-8")
    (tmp_path / ".train.jsonl").write_bytes(b"\x00\x05")  # macOS resource fork: ignored
    ds = load_dataset(str(tmp_path))
    assert ds.name == tmp_path.name
    assert list(ds.splits) == ["train", "validation", "test"]
    assert ds.columns == ("text", "label", "extra")
    assert ds.rows("train")[0] == {"text": "great blender", "label": "positive", "extra": None}
    assert ds.rows("test") == [{"text": "no label here", "label": None, "extra": None}]  # unlabelled split is fine
    assert (ds.default_eval_split, ds.default_train_split) == ("validation", "train")
    assert ds.label_counts("test") == {"negative": 0, "positive": 0}


def test_folder_shards_of_one_split_are_joined(tmp_path):
    write_jsonl(tmp_path / "train-00000-of-00002.jsonl", ROWS[:2])
    write_jsonl(tmp_path / "train-00001-of-00002.jsonl", ROWS[2:])
    assert load_dataset(str(tmp_path)).rows("train") == ROWS


def test_saved_datasetdict_class_labels_become_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"sentence": datasets.Value("string"), "idx": datasets.Value("int32"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    train = datasets.Dataset.from_dict({"sentence": ["bad", "good", "fine"], "idx": [0, 1, 2], "label": [0, 1, 1]},
                                       features=features)
    test = datasets.Dataset.from_dict({"sentence": ["???"], "idx": [0], "label": [-1]}, features=features)
    datasets.DatasetDict({"train": train.shuffle(seed=0), "test": test}).save_to_disk(str(tmp_path / "sst2"))
    ds = load_dataset(str(tmp_path / "sst2"))
    assert sorted(ds.rows("train"), key=lambda r: r["idx"]) == [
        {"sentence": "bad", "idx": 0, "label": "negative"},
        {"sentence": "good", "idx": 1, "label": "positive"},
        {"sentence": "fine", "idx": 2, "label": "positive"},
    ]
    assert ds.rows("test") == [{"sentence": "???", "idx": 0, "label": None}]  # -1: no label
    assert ds.labels == ("negative", "positive")
    assert type(ds.rows("train")[0]["idx"]) is int

    train.save_to_disk(str(tmp_path / "single"))
    assert list(load_dataset(str(tmp_path / "single")).splits) == ["data"]


def test_hub_name_goes_through_datasets_with_config(monkeypatch):
    hf = pytest.importorskip("datasets")
    features = hf.Features({"text": hf.Value("string"), "label": hf.ClassLabel(names=["no", "yes"])})
    calls = []

    class FakeBuilder:  # what datasets.load_dataset builds, prepares and returns
        config = type("Config", (), {"data_files": {"validation": ["hf://datasets/nyu-mll/glue@0123abc/sst2/v.pq"]}})

        def download_and_prepare(self):
            calls.append("prepared")

        def as_dataset(self):
            return hf.DatasetDict({"validation": hf.Dataset.from_dict({"text": ["x"], "label": [1]},
                                                                      features=features)})

    def fake_load_dataset_builder(name, config=None, **kwargs):
        calls.append((name, config, kwargs))
        return FakeBuilder()

    monkeypatch.setattr(hf, "load_dataset_builder", fake_load_dataset_builder)
    monkeypatch.setattr(datasets, "hub_reachable", lambda: True)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    ds = load_dataset("nyu-mll/glue:sst2")
    assert calls == [("nyu-mll/glue", "sst2", {}), "prepared"]  # no trust_remote_code, no other options
    assert ds.rows("validation") == [{"text": "x", "label": "yes"}]
    assert ds.name == "nyu-mll/glue:sst2"


def test_label_column_choice(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"text": "a", "Sentiment": "p", "category": "c1", "stars": 5}])
    assert load_dataset(str(path)).label_column == "category"  # category comes before sentiment
    assert load_dataset(str(path), label_column="stars").labels == ("5",)
    with pytest.raises(ValueError, match=r"no column 'star' .*Did you mean 'stars'\?.*text, Sentiment"):
        load_dataset(str(path), label_column="star")
    path = write_jsonl(tmp_path / "y.jsonl", [{"text": "a", "Sentiment": "p"}])
    assert load_dataset(str(path)).label_column == "Sentiment"


def test_dataset_splits_and_defaults():
    def make(**sizes):
        return Dataset("d", {s: [{"t": i} for i in range(n)] for s, n in sizes.items()}, ("t",), None, ())

    assert (make(train=3, test=2, validation=1).default_eval_split) == "validation"
    assert make(train=3, test=2, dev=1).default_eval_split == "dev"
    assert (make(test=2, other=5, small=1).default_eval_split, make(test=2, other=5, small=1).default_train_split) \
        == ("test", "other")
    assert make(only=4).default_eval_split == make(only=4).default_train_split == "only"
    with pytest.raises(ValueError, match=r"no split 'valid'.*train, test"):
        make(train=1, test=1).rows("valid")
    with pytest.raises(ValueError, match=r"no label column.*Its columns: t\. Pick one with label_column="):
        make(train=1).label_counts("train")


# ---- the demo task --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, sizes, min_words", [
    ("demo-reviews", {"train": 100, "validation": 64}, 5),
    ("demo-reviews-zh", {"train": 50, "validation": 44}, 0),
])
def test_demo_datasets(name, sizes, min_words):
    ds = load_dataset(name)
    assert {split: len(rows) for split, rows in ds.splits.items()} == sizes
    assert ds.columns == ("text", "label", "product")
    assert ds.labels == ("negative", "positive")
    for split in ds.splits:
        counts = ds.label_counts(split)
        assert abs(counts["positive"] - counts["negative"]) <= len(ds.rows(split)) // 10
    texts = [r["text"] for rows in ds.splits.values() for r in rows]
    assert len(set(texts)) == len(texts)
    assert all(r["product"] for rows in ds.splits.values() for r in rows)
    if min_words:
        assert all(5 <= len(t.split()) <= 30 for t in texts)
    else:
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)


# ---- bad input ----------------------------------------------------------------------------------------------------


def bad(source, *patterns, **kwargs):
    with pytest.raises(ValueError) as info:
        load_dataset(str(source), **kwargs)
    for pattern in patterns:
        assert pattern in str(info.value), f"{pattern!r} not in {str(info.value)!r}"
    return str(info.value)


def test_missing_file_suggests_similar_names(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    bad(tmp_path / "trian.jsonl", "No file or folder named", "trian.jsonl", "Did you mean: train.jsonl?")
    bad(tmp_path / "zzz.csv", "Data files in", "train.jsonl")
    bad(tmp_path / "nope" / "a.csv", "does not exist")


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    bad(tmp_path / "a.jsonl", "a.jsonl is empty")
    (tmp_path / "b.csv").write_text("  \n\n", encoding="utf-8")
    bad(tmp_path / "b.csv", "b.csv is empty")
    (tmp_path / "c.csv").write_bytes(b"\xef\xbb\xbf")
    bad(tmp_path / "c.csv", "c.csv is empty")
    (tmp_path / "d.csv").write_text("text,label\n", encoding="utf-8")
    bad(tmp_path / "d.csv", "d.csv has no rows")
    (tmp_path / "e.parquet").write_bytes(b"")
    bad(tmp_path / "e.parquet", "e.parquet is empty")


def test_not_utf8_names_byte_and_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncafé,positive\n".encode("latin-1"))
    message = bad(path, "latin.csv is not valid UTF-8", "byte 14 (line 2)", "Re-save the file as UTF-8")
    assert "GB18030" not in message
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,label\n很好,正面\n".encode("gbk"))
    bad(path, "byte 11 (line 2)", "GB18030/GBK")


def test_malformed_json_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": "p"}\n\n{"text": "b", "label": }\n', encoding="utf-8")
    bad(path, "x.jsonl, line 3: not valid JSON", "Expecting value at column")
    path.write_text('{"text": "a"}\n["b", "p"]\n', encoding="utf-8")
    bad(path, "x.jsonl, line 2: expected a JSON object", "found a list")
    path.write_text('{\n  "text": "a",\n  "label": "p"\n}\n', encoding="utf-8")
    bad(path, "one JSON value spread over several lines", "JSON Lines")
    path = tmp_path / "y.json"
    path.write_text('[{"text": "a"}, 3]', encoding="utf-8")
    bad(path, "item 1 of the JSON array is a number")


def test_ragged_csv_and_tsv_rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,label\nfine,positive\nlight, but loud,positive\n", encoding="utf-8")
    bad(path, "x.csv, line 3: expected 2 fields (like the header: text, label), found 3", "double quotes")
    path.write_text("text,label\nfine,positive\n\nshort\n", encoding="utf-8")
    bad(path, "line 4: expected 2 fields", "found 1")
    path = tmp_path / "x.tsv"
    path.write_text("text\tlabel\na\tb\tc\n", encoding="utf-8")
    bad(path, "x.tsv, line 2: expected 2 fields", "found 3", "tab")
    path = tmp_path / "dup.csv"
    path.write_text("text,text\na,b\n", encoding="utf-8")
    bad(path, "column 'text' twice")


def test_binary_files_and_wrong_extensions(tmp_path):
    (tmp_path / "x.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    bad(tmp_path / "x.csv", "looks like a binary file")
    (tmp_path / "y.csv").write_bytes(b"PK\x03\x04rest-of-zip")
    bad(tmp_path / "y.csv", "ZIP archive or an Excel workbook")
    (tmp_path / "z.jsonl").write_bytes("text\n".encode("utf-16"))
    bad(tmp_path / "z.jsonl", "UTF-16")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    bad(tmp_path / "notes.txt", "unsupported file type '.txt'", ".jsonl, .json, .csv, .tsv, .parquet")
    (tmp_path / "fake.parquet").write_text("text,label\n", encoding="utf-8")
    bad(tmp_path / "fake.parquet", "is not a Parquet file")
    (tmp_path / "cut.parquet").write_bytes(b"PAR1" + b"\x01" * 20)
    bad(tmp_path / "cut.parquet", "could not read this Parquet file")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("x", encoding="utf-8")
    bad(tmp_path / "folder", "holds no data files", "notes.txt", "train.jsonl and validation.jsonl")


def test_label_values_missing(tmp_path):
    rows = [{"text": "a", "label": "p"}, {"text": "b", "label": ""}, {"text": "c", "label": None},
            {"text": "d", "label": "n"}]
    message = bad(write_jsonl(tmp_path / "train.jsonl", rows), "split 'train'",
                  "label column 'label' is empty in 2 of 4",
                  "first at row 1")
    assert "label_column=" in message
    bad(write_jsonl(tmp_path / "v.jsonl", [{"text": "a", "label": None}]), "empty in every row")
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"text": ["a", "b"], "target": [1.0, float("nan")]}).to_parquet(tmp_path / "t.parquet")
    bad(tmp_path / "t.parquet", "label column 'target' is empty in 1 of 2", "first at row 1")


def test_files_over_the_limit_are_refused(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "big.jsonl", ROWS * 10)
    monkeypatch.setattr(datasets, "MAX_UPLOAD_BYTES", 100)
    bad(path, f"big.jsonl is {path.stat().st_size / 1e6:.1f} MB", "over the 0 MB limit")
    assert datasets.MAX_UPLOAD_BYTES == 100
    monkeypatch.undo()
    assert datasets.MAX_UPLOAD_BYTES == 200_000_000


def test_unknown_hub_name_fails_fast_offline(monkeypatch):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    message = bad("promptlab-no-such-user/no-such-dataset-1f3a9", "No local file or folder named")
    assert time.monotonic() - start < 20  # a guard against hanging on the network, not a benchmark
    assert "Pass a path to a .jsonl/.csv/.tsv/.parquet file" in message
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: surely unreachable
    bad("no-such-dataset-1f3a9", "the Hugging Face Hub could not be reached (offline)", "HF_DATASETS_OFFLINE=1")
    bad("demo-review", "Did you mean the demo 'demo-reviews'?")


def test_hub_offline_flag_is_honoured_without_probing():
    code = ("from promptlab.data.datasets import load_dataset\n"
            "try:\n    load_dataset('promptlab-no-such-user/nothing-here-1f3a9')\n"
            "except ValueError as e:\n    print(e)\n")
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                         check=False).stdout
    assert time.monotonic() - start < 20
    assert "switched off (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE is set)" in out


def test_hub_probe_is_bounded_even_if_the_network_hangs(monkeypatch):
    monkeypatch.setattr(hub.urllib.request, "urlopen", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    assert hub.hub_reachable(timeout=0.2) is False
    assert time.monotonic() - start < 5


def test_importing_data_loads_neither_torch_gradio_nor_datasets():
    code = ("import sys, promptlab.data.datasets, promptlab.data.sampling\n"
            "print(sorted({'torch', 'gradio', 'datasets'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False).stdout
    assert out.strip() == "[]"


# ---- samplers -----------------------------------------------------------------------------------------------------

POOL = [{"text": f"row {i}", "label": "pos" if i % 3 else "neg"} for i in range(30)]  # 10 neg, 20 pos


def test_random_shots_are_seeded_and_ordered():
    first = sample_shots(POOL, 5, seed=1)
    assert sample_shots(POOL, 5, seed=1) == first
    assert len({r["text"] for r in first}) == 5
    orders = {tuple(r["text"] for r in sample_shots(POOL, 5, seed=s)) for s in range(10)}
    assert len(orders) > 5
    assert sample_shots(POOL, 0, seed=1) == []


@pytest.mark.parametrize("method", ["random", "balanced"])
def test_query_row_is_never_a_shot_and_only_it_is_replaced(method):
    base = sample_shots(POOL, 6, seed=3, method=method, label_column="label")
    for query in POOL:
        shots = sample_shots(POOL, 6, seed=3, method=method, label_column="label", exclude=[query])
        assert query not in shots
        if query in base:
            changed = [i for i in range(6) if shots[i] != base[i]]
            assert changed == [base.index(query)]  # same set and order, the one collision swapped in place
        else:
            assert shots == base


def test_duplicate_of_the_query_is_excluded_too():
    pool = [{"t": "a"}, {"t": "b"}, {"t": "a"}, {"t": "c"}]
    for seed in range(5):
        assert sample_shots(pool, 2, seed, exclude=[{"t": "a"}]) in ([{"t": "b"}, {"t": "c"}], [{"t": "c"}, {"t": "b"}])


def test_balanced_counts():
    for k, want in [(6, {"neg": 3, "pos": 3}), (4, {"neg": 2, "pos": 2}), (24, {"neg": 10, "pos": 14})]:
        shots = sample_shots(POOL, k, seed=0, method="balanced", label_column="label")
        assert Counter(r["label"] for r in shots) == want
    three = [{"t": i, "y": "abc"[i % 3]} for i in range(12)]
    counts = sorted(Counter(r["y"] for r in sample_shots(three, 5, 7, method="balanced", label_column="y")).values())
    assert counts == [1, 2, 2]

    def class_with_two(seed):
        counts = Counter(r["y"] for r in sample_shots(three, 4, seed, method="balanced", label_column="y"))
        return next(label for label, n in counts.items() if n == 2)

    assert len({class_with_two(seed) for seed in range(20)}) > 1  # the seed picks which class gets the extra row
    orders = {tuple(r["label"] for r in sample_shots(POOL, 6, s, method="balanced", label_column="label"))
              for s in range(10)}
    assert len(orders) > 1  # not always neg, pos, neg, pos, ...


def test_fixed_shots():
    assert sample_shots(POOL, 3, seed=0, method="fixed", indices=[4, 0, 2]) == [POOL[4], POOL[0], POOL[2]]
    with pytest.raises(ValueError, match=r"index 30 is out of range: the pool has 30 rows \(indices 0 to 29\)"):
        sample_shots(POOL, 1, seed=0, method="fixed", indices=[30])
    with pytest.raises(ValueError, match="index -1 is out of range"):
        sample_shots(POOL, 1, seed=0, method="fixed", indices=[-1])
    with pytest.raises(ValueError, match="index 2 is the query row itself"):
        sample_shots(POOL, 2, seed=0, method="fixed", indices=[1, 2], exclude=[POOL[2]])
    with pytest.raises(ValueError, match=r"got 2 indices but k=3"):
        sample_shots(POOL, 3, seed=0, method="fixed", indices=[1, 2])


def test_sampler_errors():
    with pytest.raises(ValueError, match="0 or more, got -1"):
        sample_shots(POOL, -1, seed=0)
    pool = POOL[:5]
    with pytest.raises(ValueError) as info:
        sample_shots(pool, 8, seed=0)
    assert str(info.value) == ("asked for 8 demonstrations but the pool has only 5 rows; "
                               "lower shots or use a larger train split")
    with pytest.raises(ValueError) as info:
        sample_shots(pool, 5, seed=0, exclude=[pool[0]])
    assert str(info.value) == ("asked for 5 demonstrations but the pool has only 4 rows (after leaving out the query "
                               "row); lower shots or use a larger train split")
    with pytest.raises(ValueError, match=r"needs label_column=.*columns: text, label"):
        sample_shots(POOL, 2, seed=0, method="balanced")
    with pytest.raises(ValueError, match="only 0 rows with a label in 'nope'"):
        sample_shots(POOL, 2, seed=0, method="balanced", label_column="nope")
    with pytest.raises(ValueError, match="unknown sampling method 'stratified'; use one of: random, balanced, fixed"):
        sample_shots(POOL, 2, seed=0, method="stratified")


def test_sample_rows():
    subset = sample_rows(POOL, 10, seed=4)
    assert subset == sample_rows(POOL, 10, seed=4)
    assert subset == sorted(subset, key=POOL.index)  # original order kept
    assert len({r["text"] for r in subset}) == 10
    bigger = sample_rows(POOL, 20, seed=4)
    assert all(r in bigger for r in subset)  # a larger n picks a superset
    assert sample_rows(POOL, 99, seed=4) == POOL
    assert sample_rows(POOL, 10, seed=5) != subset
    with pytest.raises(ValueError, match="0 or more"):
        sample_rows(POOL, -2, seed=0)


# ---- real data ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, text_column, train, validation", [
    ("sst2", "sentence", 66_473, 872),
    ("chnsenticorp", "text", 7_891, 1_200),
])
def test_shared_real_datasets(shared_datasets, name, text_column, train, validation):
    ds = load_dataset(str(shared_datasets / name))
    assert {split: len(rows) for split, rows in ds.splits.items()} == {"train": train, "validation": validation}
    assert ds.label_column == "label" and ds.labels == ("negative", "positive")
    assert text_column in ds.columns
    shots = sample_shots(ds.rows("train"), 4, seed=0, method="balanced", label_column="label",
                         exclude=[ds.rows("validation")[0]])
    assert Counter(r["label"] for r in shots) == {"negative": 2, "positive": 2}


def test_split_order_and_eval_split_for_hub_style_names():
    def fake(*names):
        return {name: table.Table([{"t": name}], ("t",), {}) for name in names}

    ds = datasets._build("mnli", fake("test_matched", "validation_mismatched", "train", "validation_matched", "extra"),
                     None)
    assert list(ds.splits) == ["train", "validation_matched", "validation_mismatched", "test_matched", "extra"]
    assert (ds.default_eval_split, ds.default_train_split) == ("validation_matched", "train")
