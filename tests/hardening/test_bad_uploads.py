"""Hardening: data files a stranger uploads or points the CLI at. Through `load_dataset` (what the app's upload and
the CLI call) and `promptlab score`; each refusal names the file, the place and the fix, and leaves the file as it
was."""

from __future__ import annotations

import json

import pytest
from helpers import toy_rows as rows
from helpers import write_jsonl

from promptlab.data import datasets
from promptlab.data.datasets import load_dataset
from promptlab.data.sampling import sample_shots


def refused(path, match: str) -> str:
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ValueError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert match in message, message
    assert before is None or path.read_bytes() == before  # the upload is never modified
    assert load_dataset("demo-reviews").labels == ("negative", "positive")  # still serving
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert refused(path, "is empty") == f"{path} is empty. Add a header line and rows, or pick another file."


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("text,label\n")
    assert refused(path, "has no rows") == (f"{path} has no rows (only a header, or only blank lines). Add at least "
                                            "one row of data.")


def test_huge_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.jsonl"
    write_jsonl(path, rows(2000))
    monkeypatch.setattr(datasets, "MAX_UPLOAD_BYTES", 10_000)  # the 200 MB limit, scaled down
    with pytest.raises(ValueError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert message.startswith("huge.jsonl is 0.1 MB, over the") and "MB limit for a data file" in message
    assert "Use a sample of its rows, or split it into several files" in message


def test_binary_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x7fELF\x02\x01\x00\x00" + bytes(range(256)))
    assert refused(path, "binary") == (f"{path} looks like a binary file, not text. Export the data as .jsonl, .csv "
                                       "or .tsv.")


@pytest.mark.parametrize("magic, kind", [(b"PK\x03\x04", "a ZIP archive or an Excel workbook"),
                                         (b"PAR1", "a Parquet file: give it the .parquet extension"),
                                         (b"\xff\xfe", "UTF-16 text: re-save it as UTF-8")])
def test_misnamed_binary_formats_are_recognised(tmp_path, magic, kind):
    path = tmp_path / "data.csv"
    path.write_bytes(magic + b"t\x00e\x00x\x00t\x00")
    assert kind in refused(path, "is not plain UTF-8 text")


def test_gbk_file_is_named_as_gbk(tmp_path):
    path = tmp_path / "zh.csv"
    path.write_bytes("text,label\n这部电影很好看,正面\n".encode("gbk"))
    message = refused(path, "is not valid UTF-8")
    assert "(line 2)" in message and "Re-save the file as UTF-8" in message and "GB18030/GBK" in message


def test_mixed_encodings_point_at_the_first_bad_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("text,label\n很好,正面\n".encode() + "不好,负面\n".encode("gbk"))
    message = refused(path, "is not valid UTF-8")
    assert "(line 3)" in message


def test_csv_ragged_row(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("text,label\nfine,positive\nlight, but loud,negative\n")
    assert refused(path, "line 3") == (f"{path}, line 3: expected 2 fields (like the header: text, label), found 3. "
                                      'A value that contains a comma must be in double quotes, e.g. "light, but loud".')


def test_csv_unbalanced_quote(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('text,label\n"never closed,positive\nok,negative\n')
    message = refused(path, "line")
    assert "quote" in message.lower() or "expected 2 fields" in message


def test_csv_duplicate_header(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("text,text,label\na,b,positive\n")
    assert refused(path, "twice") == f"{path}: the header names column 'text' twice. Give every column its own name."


def test_csv_formula_cells_stay_inert_text(tmp_path):
    """=HYPERLINK(...) / +cmd cells load as plain text (never evaluated); exporting them is covered in test_app."""
    path = tmp_path / "formula.csv"
    path.write_text('text,label\n"=HYPERLINK(""http://evil"",""x"")",positive\n+1+cmd|\' /C calc\'!A0,negative\n'
                    "@SUM(1),positive\n")
    ds = load_dataset(str(path))
    assert [r["text"] for r in ds.rows("data")] == ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0",
                                                   "@SUM(1)"]


def test_jsonl_broken_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label"\n{"text": "c", "label": "y"}\n')
    message = refused(path, "line 2")
    assert message == (f"{path}, line 2: not valid JSON (Expecting ':' delimiter at column 22). Each line must be "
                       "one complete JSON object; check quotes, commas and brackets on that line.")


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    assert "line 2" in refused(path, "line 2")


def test_parquet_with_nested_columns_becomes_json_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "meta": [{"tags": [1, 2], "who": "二"}, {"tags": [], "who": None}],
                             "label": ["x", "y"]}), path)
    ds = load_dataset(str(path))
    assert ds.rows("data")[0]["meta"] == '{"tags": [1, 2], "who": "二"}'
    assert ds.labels == ("x", "y")


def test_truncated_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"text": ["a"] * 100, "label": ["x"] * 100}), path)
    path.write_bytes(path.read_bytes()[:200])
    assert "It may be damaged or cut short." in refused(path, "could not read this Parquet file")


def test_nan_labels_are_named_with_their_row(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": NaN}\n{"text": "c", "label": "y"}\n')
    assert refused(path, "is empty in 1 of 3 rows") == (
        "Dataset 'nan', split 'data': label column 'label' is empty in 1 of 3 rows (first at row 1, counting from "
        "0). Fill in those labels, drop the rows, or pick another column with label_column=.")


def test_one_class_dataset_scores_with_majority_one(tmp_path, tiny_model_dir, template_file, run_cli):
    folder = tmp_path / "one"
    write_jsonl(folder / "validation.jsonl", [{"sentence": f"fine {i}", "label": "positive"} for i in range(4)])
    assert load_dataset(str(folder)).labels == ("positive",)
    result = run_cli("score", "--template", template_file, "--data", folder, "--model", tiny_model_dir, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["metrics"]["majority"] == 1.0


def test_fewer_rows_than_shots(tmp_path, template_file, run_cli):
    folder = tmp_path / "small"
    write_jsonl(folder / "train.jsonl", rows(2))
    write_jsonl(folder / "validation.jsonl", rows(2, offset=10))
    # a model that does not exist: the data problem is reported first, before any model is loaded
    result = run_cli("score", "--template", template_file, "--data", folder, "--model", tmp_path / "no-model",
                     "--shots", "4")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == ("promptlab: error: asked for 4 demonstrations but the pool has "
                                                   "only 2 rows; lower shots or use a larger train split")
    with pytest.raises(ValueError, match="only 2 rows with a label in 'label'"):
        sample_shots(rows(2), 4, seed=0, method="balanced", label_column="label")


def test_cli_missing_file_and_unsupported_type(tmp_path, template_file, run_cli):
    missing = run_cli("score", "--template", template_file, "--data", tmp_path / "nope.csv")
    assert missing.code == 2 and "nope.csv" in missing.err and "Traceback" not in missing.err
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"PK\x03\x04")
    result = run_cli("score", "--template", template_file, "--data", odd)
    assert result.code == 2 and "unsupported file type '.xlsx'" in result.err


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("depth", [100_000, 600])  # 600: json reads it, but making it a cell's text recursed too far
def test_deeply_nested_json_lines_name_the_file_and_the_line(tmp_path, depth):
    path = tmp_path / "deep.jsonl"
    value = "[" * depth + "]" * depth
    path.write_text('{"text": "a", "label": "x"}\n{"text": "[[[ in a string", "label": "y"}\n'
                    f'{{"text": {value}, "label": "z"}}\n')
    assert refused(path, "line 3") == (
        f"{path}, line 3: a value nests lists or objects {depth:,} levels deep, too deep to read. Cells may hold "
        "nested values a few hundred levels deep at most: flatten that value, or drop it.")


def test_deeply_nested_json_array_names_the_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('[\n  {"text": "a", "label": "x"},\n  {"text": ' + DEEP + ', "label": "y"}\n]\n')
    assert refused(path, "line 3").startswith(f"{path}, line 3: a value nests lists or objects 100,000 levels deep")


def test_parquet_that_expands_a_millionfold_is_refused_with_its_size(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bomb.parquet"  # 1 kB: one 100 kB string stored once, and 60,000 rows pointing at it
    text = pa.DictionaryArray.from_arrays(pa.array([0] * 60_000, pa.int32()), pa.array(["a" * 100_000]))
    pq.write_table(pa.table({"text": text, "label": pa.array([1] * 60_000)}), path, compression="zstd")
    assert refused(path, "bomb.parquet holds 6.0 GB of data once decompressed and decoded") == (
        "bomb.parquet holds 6.0 GB of data once decompressed and decoded; the limit is 500 MB per dataset. Use a "
        "sample of its rows (e.g. the first 10,000) or fewer columns, or split it into smaller datasets.")
