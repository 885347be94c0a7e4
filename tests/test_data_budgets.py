"""Reading untrusted data: the decoded-size budget, the bounded child process (memory, time) and Hub names that must
never reach the server's files. Real files (crafted Parquet "bombs" of a few kB that expand to gigabytes), a real
child process, limits scaled down through the environment so that every test is quick."""

from __future__ import annotations

import json
import os
import pickle
import time

import pytest

from promptlab.data import bounded, datasets
from promptlab.data.bounded import load_untrusted
from promptlab.data.datasets import load_dataset

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SECRET = "TOP-SECRET-7f3a"


def write_bomb(path, rows: int = 60_000, value_bytes: int = 100_000, compression: str = "zstd"):
    """A Parquet file of `rows` rows whose text column repeats one long string: dictionary encoding stores the
    string once and an index per row, so the file is about 1 kB and `rows * value_bytes` bytes once read."""
    text = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["a" * value_bytes]))
    pq.write_table(pa.table({"text": text, "label": pa.array([1] * rows)}), path, compression=compression)
    return path


def refused(source, *matches, local_files=True, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        load_untrusted(str(source), local_files=local_files, **kwargs)
    message = str(info.value)
    for match in matches:
        assert match in message, message
    assert load_untrusted("demo-reviews", local_files=False).labels == ("negative", "positive")  # still serving
    return message


# ---- the decoded-size budget -------------------------------------------------------------------------------------


def test_parquet_dictionary_bomb_is_refused_with_its_expanded_size(tmp_path):
    path = write_bomb(tmp_path / "bomb.parquet")
    assert path.stat().st_size < 5_000  # a few kB on disk, 6 GB once read
    start = time.monotonic()
    message = refused(path, "bomb.parquet holds 6.0 GB of data once decompressed and decoded; the limit is 500 MB "
                            "per dataset.", "Use a sample of its rows")
    assert time.monotonic() - start < 10  # refused from the footer and the dictionary, never expanded
    with pytest.raises(ValueError) as info:  # the same message in this process (the CLI's way)
        load_dataset(str(path))
    assert str(info.value) == message


def test_parquet_zstd_bomb_is_refused_from_its_footer(tmp_path, monkeypatch):
    path = tmp_path / "plain.parquet"
    table = pa.table({"text": pa.array(["b" * 1000] * 20_000)})  # 20 MB of text, no dictionary: zstd does it all
    pq.write_table(table, path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("PROMPTLAB_DATA_MAX_MB", "5")
    refused(path, "plain.parquet holds 20 MB of data once decompressed and decoded; the limit is 5.0 MB per dataset.")


def test_honest_big_files_get_their_cell_count_and_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLAB_DATA_MAX_CELLS", "100000")
    wide = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": pa.array(range(1_000_000)), "label": pa.array([0, 1] * 500_000)}), wide)
    refused(wide, "ids.parquet has 2 million cells (rows × columns); the limit is 100,000 per dataset.")
    csv = tmp_path / "big.csv"
    csv.write_text("text,label\n" + "fine,1\n" * 60_000)
    refused(csv, "big.csv has more than 100,000 cells (rows × columns); the limit is 100,000 per dataset.")
    sparse = tmp_path / "sparse.jsonl"  # 40 kB, but every line names its own key: 2,000 rows x 2,000 columns
    sparse.write_text("".join(json.dumps({f"k{i}": i}) + "\n" for i in range(2000)))
    refused(sparse, "sparse.jsonl has 4 million cells (rows × columns); the limit is 100,000 per dataset.")
    folder = tmp_path / "shards"  # the limit holds for the dataset, not for each of its files
    folder.mkdir()
    for shard in range(3):
        (folder / f"train-{shard}.csv").write_text("text,label\n" + "fine,1\n" * 20_000)
    refused(folder, "train-2.csv has more than 100,000 cells (rows × columns, with the files of this dataset read "
                    "before it)")


# ---- the child process: memory and time ----------------------------------------------------------------------------


def test_memory_limit_stops_what_the_budget_lets_through(tmp_path, monkeypatch):
    path = write_bomb(tmp_path / "bomb.parquet")
    monkeypatch.setenv("PROMPTLAB_DATA_MAX_MB", "100000")  # no decoded-size budget: only the backstop is left
    monkeypatch.setenv("PROMPTLAB_DATA_MEMORY_MB", "300")
    start = time.monotonic()
    refused(path, "Reading 'bomb.parquet' needed more than 300 MB of memory, so it was stopped; nothing else was "
                  "affected.", "Use a smaller file or a sample of its rows")
    assert time.monotonic() - start < 30


def test_a_read_that_takes_too_long_is_stopped(tmp_path, monkeypatch):
    path = tmp_path / "slow.csv"
    path.write_text("text,label\n" + "a rather long review of a blender,positive\n" * 400_000)  # seconds to parse
    monkeypatch.setenv("PROMPTLAB_DATA_TIMEOUT_S", "0.3")
    start = time.monotonic()
    refused(path, "Reading 'slow.csv' took longer than 0.3 s, so it was stopped.")
    assert time.monotonic() - start < 10


def test_the_child_reads_every_format_as_this_process_does(tmp_path):
    from test_data import ROWS, write_jsonl

    folder = tmp_path / "task"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", ROWS)
    (folder / "validation.csv").write_text("text,label\nok,positive\n\"a, b\",negative\n", encoding="utf-8")
    pq.write_table(pa.table({"text": ["x", "y"], "label": ["positive", "negative"], "tags": [[1], [2, 3]]}),
                   folder / "test.parquet")
    for source in (folder, folder / "test.parquet"):
        assert load_untrusted(str(source), local_files=True) == load_dataset(str(source))
    assert load_untrusted(str(folder), "text", local_files=True) == load_dataset(str(folder), label_column="text")


def test_reader_messages_come_back_unchanged(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a"}\n{"text" "b"}\n')
    with pytest.raises(ValueError) as here:
        load_dataset(str(path))
    assert refused(path, "line 2: not valid JSON") == str(here.value)


def test_the_childs_answer_may_hold_plain_data_only():
    # what a subverted child could write: a pickle that calls os.system when loaded
    evil = b"cos\nsystem\n(S'echo pwned'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="only plain data"):
        bounded._PlainData.loads(evil)
    with pytest.raises(ValueError, match="gave an unreadable answer"):
        bounded._dataset({"source": "x"}, evil)
    plain = ("dataset", ("x", {"data": [{"a": 1.5, "b": None, "c": True}]}, ("a", "b", "c"), None, ()))
    assert bounded._PlainData.loads(pickle.dumps(plain, protocol=5)) == plain


# ---- Hub names never reach the server's files ---------------------------------------------------------------------


@pytest.fixture()
def server_folder(tmp_path, monkeypatch):
    """A server's working folder holding data a visitor must not read, and a Hub that is switched off (nothing
    leaves this machine; names resolve in an empty Hugging Face cache)."""
    folder = tmp_path / "server"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text(f"text,label\n{SECRET},1\n")
    (folder / "secret.csv").write_text(f"text,label\n{SECRET},1\n")
    (folder / "notes.txt").write_text(f"{SECRET}\n")
    (folder / "runs" / "r1").mkdir(parents=True)
    (folder / "runs" / "r1" / "spec.json").write_text(json.dumps({"template": SECRET}))
    (folder / "linked").symlink_to(folder / "data")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return folder


# Each read a file of the server's folder through `datasets.load_dataset` before: its file-format loaders read the
# working folder when given no files (csv, json, text, ...; a config part changes nothing), and a folder's name with
# a config part passed every path check and was then found on disk.
BUILDER_NAMES = ["csv", "json", "text", "parquet", "pandas", "CSV", "csv:x", "text:default", "json:anything"]
FOLDER_NAMES = ["data:default", "runs:default", "linked:default", "data", "linked", "runs"]
PATHS = ["secret.csv", "/etc/passwd", "./data", "../server/data", "~/data", "~root", "data/../secret.csv",
         "a/b/c", "hf://datasets/x/y", "data:../secret", "", " data", "data ", "x--y", "x..y/z", "-data"]


@pytest.mark.parametrize("name", BUILDER_NAMES)
def test_builder_names_are_refused_without_reading_anything(server_folder, name):
    message = refused(name, "names one of the file-format loaders of the `datasets` library, not a dataset on "
                            "the Hub", local_files=False)
    assert SECRET not in message
    with pytest.raises(ValueError, match="file-format loaders") as info:  # also where local files are allowed
        load_dataset(name)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_names_of_server_folders_are_looked_up_on_the_hub_only(server_folder, name):
    message = refused(name, f"Could not load the Hub dataset '{name}': the Hugging Face Hub is switched off",
                      "could not be loaded from the local cache", local_files=False)
    assert SECRET not in message


@pytest.mark.parametrize("name", ["data:default", "runs:default", "linked:default"])
def test_a_config_part_does_not_turn_a_local_folder_into_a_hub_name(server_folder, name):
    folder = name.partition(":")[0]
    with pytest.raises(ValueError) as info:
        load_dataset(name)
    assert str(info.value) == (f"'{name}' reads as the Hub dataset '{folder}' with config 'default', but '{folder}' "
                               f"is a file or folder here. To read it, give its path ('{folder}'); configs exist on "
                               "the Hub only.")


@pytest.mark.parametrize("name", PATHS)
def test_paths_are_not_hub_names(server_folder, name):
    message = refused(name, "is not a Hugging Face dataset name", "Reading files on this server by path is turned "
                            "off here: upload the file instead.", local_files=False)
    assert SECRET not in message


def stand_in_datasets(tmp_path, monkeypatch, data_files: list[str]):
    """A stand-in `datasets` for the reading process (first on its PYTHONPATH) whose builder lists `data_files`, as a
    Hub dataset's card makes it do, and which writes down what it was asked and whether it read anything."""
    site, asked = tmp_path / "site", tmp_path / "asked.jsonl"
    (site / "datasets").mkdir(parents=True)
    (site / "datasets" / "__init__.py").write_text(
        "import json, os\n"
        f"def record(event):\n    with open({str(asked)!r}, 'a') as f:\n        f.write(json.dumps(event) + '\\n')\n"
        "class packaged_modules:\n    _PACKAGED_DATASETS_MODULES = {}\n"
        f"class Config:\n    data_files = {{'train': {data_files!r}}}\n"
        "class Builder:\n    config = Config\n"
        "    def download_and_prepare(self):\n        record('read the data files')\n"
        "        raise FileNotFoundError('stand-in')\n"
        "def load_dataset_builder(name, config=None, **kwargs):\n"
        "    record([name, config, kwargs, os.getcwd(), os.listdir('.')])\n    return Builder()\n"
        "def load_dataset(name, config=None, **kwargs):  # builder, then its files: what load_dataset does\n"
        "    load_dataset_builder(name, config, **kwargs).download_and_prepare()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    return lambda: [json.loads(line) for line in asked.read_text().splitlines()] if asked.exists() else []


def test_hub_names_go_to_datasets_unchanged_from_an_empty_folder(server_folder, tmp_path, monkeypatch):
    events = stand_in_datasets(tmp_path, monkeypatch, ["hf://datasets/nyu-mll/glue@0123abc/sst2/train.parquet"])
    refused("nyu-mll/glue:sst2", "Could not load the Hub dataset 'nyu-mll/glue:sst2'", local_files=False)
    (name, config, kwargs, cwd, listing), read = events()
    assert (name, config, kwargs, listing, read) == ("nyu-mll/glue", "sst2", {}, [], "read the data files")
    assert os.path.basename(cwd) == "cwd" and not cwd.startswith(str(server_folder))


@pytest.mark.parametrize("data_file", [
    "{server}/secret.csv",                                  # a card's data_files: an absolute path on the server
    "file://{server}/secret.csv",
    "hf://datasets/nyu-mll/glue@0123abc/../../../{server}/secret.csv",
    "hf://datasets/someone/else@0123abc/train.csv",          # another repository (private to the server's token)
    "https://example.com/train.csv",                         # anything the server could be made to fetch
])
def test_a_hub_dataset_card_cannot_point_at_other_files(server_folder, tmp_path, monkeypatch, data_file):
    events = stand_in_datasets(tmp_path, monkeypatch, [data_file.format(server=server_folder)])
    message = refused("nyu-mll/glue", "The Hub dataset 'nyu-mll/glue' lists 1 data file(s) outside its own "
                                      "repository", "so it was not loaded", local_files=False)
    assert SECRET not in message and str(server_folder) not in message
    assert "read the data files" not in events()


# ---- the app: what a visitor types in the Data tab ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["csv", "text", "data:default", "runs:default"])
def test_the_data_tab_reads_no_server_file_by_name_on_a_public_server(server_folder, monkeypatch, name):
    gr = pytest.importorskip("gradio")
    from promptlab.ui import state
    from promptlab.ui.tabs import data

    monkeypatch.setattr(state.CONFIG, "allow_local_files", False)  # what SPACE_ID sets at launch
    with pytest.raises(gr.Error) as info:
        data.load_source(name, None, "en")
    assert info.value.message.startswith("Could not load the data: ") and SECRET not in info.value.message
    upload = server_folder / "secret.csv"  # an upload is the app's own file: still read
    assert data.load_upload(str(upload), None, "en")["columns"] == ["text", "label"]
    assert data.load_source("demo-reviews", None, "en")["name"] == "demo-reviews"


def test_the_bounded_reader_imports_nothing_heavy_here():
    import subprocess
    import sys

    code = ("import sys, promptlab.data.bounded, promptlab.data.cache\n"
            "print(sorted({'torch', 'gradio', 'datasets', 'pyarrow'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False).stdout
    assert out.strip() == "[]"
    assert datasets.MAX_UPLOAD_BYTES == 200_000_000


def test_a_public_apps_reader_has_no_hub_token(monkeypatch):
    """On a public app a visitor names the dataset: the process that reads it gets none of the server's Hugging Face
    tokens (a Space's HF_TOKEN would open private and gated datasets to every visitor). A private app keeps them:
    the person who runs it reads their own private datasets."""
    from promptlab.data import bounded

    monkeypatch.setenv("HF_TOKEN", "hf_the_servers_own")
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_the_servers_own")
    monkeypatch.setenv("PROMPTLAB_PUBLIC", "0")
    assert bounded._child_env()["HF_TOKEN"] == "hf_the_servers_own"
    monkeypatch.setenv("PROMPTLAB_PUBLIC", "1")
    env = bounded._child_env()
    assert "hf_the_servers_own" not in env.values()
    assert env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] == "1" and env["HF_TOKEN_PATH"] == os.devnull  # nor the token file
