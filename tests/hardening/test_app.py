"""Hardening: the web app on loopback, driven by `gradio_client` like a stranger's browser would: bad templates,
bad uploads, path tricks, CSV injection, training turned off, and several visitors at once (no cross-talk).
One app per module (tiny random model)."""

from __future__ import annotations

import csv
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from promptlab import settings
from promptlab.data import datasets
from promptlab.settings import REPO_ROOT

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes

FIELDS = dict(name="hard", instruction="", prompt="Review: {{ text }}\nSentiment:", target="{{ label }}",
              choices="negative ||| positive", target_delimiter=" ", fewshot_delimiter="\\n\\n", chat=False,
              language="en", task="", description="", reference="", class_labels="")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, tiny_model_dir):
    from promptlab.ui import state
    from promptlab.ui.app import launch

    home = tmp_path_factory.mktemp("app-home")
    (home / "templates").mkdir()
    shutil.copy(REPO_ROOT / "templates" / "demo-reviews-sentiment.yaml", home / "templates")
    patch = pytest.MonkeyPatch()
    patch.setenv("PROMPTLAB_TEMPLATES", str(home / "templates"))
    patch.setenv("PROMPTLAB_RUNS", str(home / "runs"))
    patch.setenv("HF_HUB_OFFLINE", "1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # preload: as `python app.py` runs, scoring in a model process (engine errors cross that process boundary)
    app = launch(port=port, model_id=str(tiny_model_dir), prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
        state.configure()
        patch.undo()


def visitor(url: str, **fields) -> Client:
    """A new visitor with the demo data and a draft template."""
    client = Client(url, verbose=False)
    client.predict("demo-reviews", "en", api_name="/load_source")
    client.predict("en", api_name="/show")  # what the page then shows (API calls do not run chained events)
    draft(client, **fields)
    return client


def draft(client: Client, **fields) -> tuple:
    """Type a template into the visitor's editor (remembered: every action sends the editor's fields)."""
    client.editor = list({**FIELDS, **fields}.values())
    return client.predict(*client.editor, "en", api_name="/check")


def preview(client: Client, n_rows: int = 3):
    metrics, table = client.predict(*client.editor, n_rows, 0, "random", 0, False, "en", api_name="/preview")
    return metrics, table["value"]


def assert_serving(url: str) -> None:
    metrics, table = preview(visitor(url), 2)
    assert "acc" in metrics.lower() and len(table["data"]) == 2


def test_ssti_template_is_listed_then_refused_at_preview(app_url):
    client = visitor(app_url)
    _, problems, _, _, _ = draft(client, prompt="{{ text.__class__.__mro__[1].__subclasses__() }}")
    assert "That expression is not allowed in templates" in problems and "is unsafe" in problems
    with pytest.raises(AppError) as info:
        preview(client)
    assert str(info.value).startswith("Could not score the template: prompt: That expression is not allowed")
    assert_serving(app_url)


def test_resource_exhaustion_template_is_refused_at_preview(app_url):
    client = visitor(app_url, prompt="{% for i in range(10**9) %}{{ text }}{% endfor %}")
    with pytest.raises(AppError, match=r"range\(\) of 1,000,000,000 items is too long; the limit is 1,000\."):
        preview(client)
    assert_serving(app_url)


def test_syntax_error_shows_line_and_column_in_the_studio(app_url):
    client = visitor(app_url)
    _, problems, _, _, _ = draft(client, prompt="Review: {{ text }}\nSentiment: {% if %}")
    assert "**prompt** (line 2, column 12): Jinja syntax error" in problems


@pytest.mark.parametrize("content, message", [
    (b"", "is empty. Add a header line and rows, or pick another file."),
    (b"\x00\x01binary\x00", "looks like a binary file, not text."),
    ("text,label\n很好,正面\n".encode("gbk"), "It reads as GB18030/GBK, a Chinese encoding"),
    (b"text,label\na,b,c\n", "line 2: expected 2 fields"),
])
def test_bad_uploads_are_refused_with_the_reason(app_url, tmp_path, content, message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    client = Client(app_url, verbose=False)
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(path)), "en", api_name="/load_upload")
    assert str(info.value).startswith("Could not load the data: ") and message in str(info.value)
    assert_serving(app_url)


def test_upload_over_the_limit(app_url, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_UPLOAD_BYTES", 1024)  # the server runs in this process
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "some text,positive\n" * 200)
    with pytest.raises(AppError, match=r"Could not load the data: The file is .* more than the .* limit\. "
                                       r"Use a smaller sample of the data\."):
        Client(app_url, verbose=False).predict(handle_file(str(path)), "en", api_name="/load_upload")


def test_typed_server_paths_are_refused_on_a_public_space(app_url, monkeypatch, tmp_path):
    from promptlab.ui import state

    secret = tmp_path / "secret.csv"
    secret.write_text("text,label\ntop secret,positive\n")
    monkeypatch.setattr(state.CONFIG, "allow_local_files", False)  # what SPACE_ID sets at launch
    client = Client(app_url, verbose=False)
    for source in (str(secret), "../../etc/passwd.csv", "~/.cache/x.jsonl"):
        with pytest.raises(AppError, match="Reading files on the server by path is turned off here"):
            client.predict(source, "en", api_name="/load_source_1")
    client.predict("demo-reviews", "en", api_name="/load_source")  # demo tasks still work (no error)
    client.predict(handle_file(str(secret)), "en", api_name="/load_upload")  # and uploads
    shown = client.predict("en", api_name="/show")  # what the tab shows for it (this client's selection)
    assert "top secret" in str(shown[-1])  # a one-row upload works too (its eval-size slider once crashed)


def test_saving_a_template_named_like_a_path_is_refused(app_url, tmp_path):
    import os

    client = visitor(app_url, name="../../escaped")
    with pytest.raises(AppError, match="The template name '../../escaped' cannot be a file name"):
        client.predict(*client.editor, "en", api_name="/save_to_library")
    templates = Path(os.environ["PROMPTLAB_TEMPLATES"])
    assert not (templates.parent.parent / "escaped.yaml").exists()
    assert [p.name for p in templates.iterdir()] == ["demo-reviews-sentiment.yaml"]  # library untouched


def test_compare_csv_download_neutralises_formula_cells(app_url, tmp_path):
    path = tmp_path / "formula.csv"
    path.write_text('text,label\n"=HYPERLINK(""http://evil"",""click"")",positive\n@SUM(A1),negative\n'
                    "plain words,positive\n-2+3,negative\n")
    client = Client(app_url, verbose=False)
    client.predict(handle_file(str(path)), "en", api_name="/load_upload")
    client.predict(False, 0.2, 0, "en", api_name="/change_holdout")  # no validation split: score all 4 rows
    client.predict("en", api_name="/show")  # the tab shows the one split (API calls do not run chained events)
    client.predict("data", "data", 4, "en", api_name="/change_splits")
    draft(client, name="=cmd|' /C calc'!A0")
    out = client.predict(*client.editor, ["draft"], 0, 1, "random", "en", api_name="/compare")  # the file's 4 rows
    metrics_csv, examples_csv = out[4], out[5]
    with open(examples_csv, encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["input"] for r in table] == ["'=HYPERLINK(\"http://evil\",\"click\")", "'@SUM(A1)", "plain words",
                                           "'-2+3"]
    with open(metrics_csv, encoding="utf-8") as f:
        header_and_rows = f.read()
    assert "\n=" not in header_and_rows and not header_and_rows.startswith("=")
    assert "'=cmd|' /C calc'!A0 (draft)" in header_and_rows


def test_training_off_refuses_to_start_a_job(app_url, monkeypatch):
    from promptlab.ui import state

    monkeypatch.setattr(state.CONFIG, "allow_training", False)
    client = visitor(app_url)
    with pytest.raises(AppError, match="Training is disabled on this server"):
        client.predict(*client.editor, "prompt_tuning", "template", 4, "cpu", 0.03, 2, 4, None, None, None, None,
                       "linear", None, "en", api_name="/start_job")
    import os

    runs = Path(os.environ["PROMPTLAB_RUNS"])
    assert not runs.exists() or not [p for p in runs.iterdir() if not p.name.startswith(".")]


def test_on_a_public_app_a_visitor_sees_and_acts_on_their_own_runs_only(app_url, monkeypatch, tmp_path,
                                                                         tiny_model_dir):
    """Each browser's secret owns its runs: another visitor neither lists them nor resumes, deletes or opens them;
    with training off, Resume starts nothing even for the owner."""
    from helpers import make_spec, write_task

    from promptlab.runs.layout import run_path
    from promptlab.tuning.spec import submit
    from promptlab.ui import state

    monkeypatch.setenv("PROMPTLAB_PUBLIC", "1")
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    secret = alice.predict(None, api_name="/remember_owner")  # a first visit: the app hands the browser a secret
    bob.predict(None, api_name="/remember_owner")
    run = submit(make_spec(write_task(tmp_path / "task"), tiny_model_dir), launch=False, owner=secret)
    listed = {who: client.predict([], "en", "newest", api_name="/list_table")[0] for who, client in
              (("alice", alice), ("bob", bob))}
    column = listed["alice"]["headers"].index("run")
    assert [row[column] for row in listed["alice"]["data"]] == [run] and listed["bob"]["data"] == []
    for api in ("/delete_runs", "/resume_runs", "/show_runs"):  # refused (gradio: not among bob's choices)
        with pytest.raises(AppError, match="started by someone else|is not in the list of choices"):
            bob.predict([run], "en", api_name=api)
    monkeypatch.setattr(state.CONFIG, "allow_training", False)
    with pytest.raises(AppError, match="Training is turned off on this server"):
        alice.predict([run], "en", api_name="/resume_runs")
    assert not (run_path(run) / "worker.json").exists()  # no worker was started


def test_a_killed_model_process_is_started_again_by_the_next_preview(app_url):
    """The kernel's out-of-memory killer takes the model process (the app's biggest): the app stays up and the
    next preview starts a fresh one. (Killed mid-request: tests/test_model_process.py checks the message.)"""
    import multiprocessing

    client = visitor(app_url)
    preview(client)
    model_process = next(p for p in multiprocessing.active_children() if p.name == "promptlab-model")
    model_process.kill()
    model_process.join(10)
    metrics, table = preview(client, 2)
    assert "acc" in metrics.lower() and len(table["data"]) == 2
    assert [p for p in multiprocessing.active_children() if p.name == "promptlab-model"] != [model_process]


def test_concurrent_visitors_get_their_own_answers_while_a_job_trains(app_url, tmp_path, tiny_model_dir):
    """Four visitors preview and compare distinct drafts at once while a tuning job trains: every answer belongs to
    its own request, and the job ends done with its whole curve. (Timed version: benchmarks/load.py.)"""
    from helpers import make_spec, wait_for_end, write_task

    from promptlab.runs import layout, store
    from promptlab.tuning.spec import submit

    run = submit(make_spec(write_task(tmp_path / "task", n_train=32, n_val=8), tiny_model_dir, max_steps=12,
                               checkpoint_every=4, eval_every=6, baseline_shots=0))

    def one(k: int):
        client = visitor(app_url, name=f"visitor-{k}", prompt=f"Visitor {k} asks: {{{{ text }}}}\nSentiment:")
        metrics, table = preview(client, 2 + k)
        client.predict("train", "validation", 4, "en", api_name="/change_splits")  # Compare scores 4 rows
        compared = client.predict(*client.editor, ["draft"], 0, 1, "random", "en", api_name="/compare")
        return k, table, compared[0]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    for k, table, compared_metrics in results:
        prompts = [row[table["headers"].index("prompt")] for row in table["data"]]
        assert len(prompts) == 2 + k and all(p.startswith(f"Visitor {k} asks: ") for p in prompts)
        names = [row[0] for row in compared_metrics["data"]]
        assert names == [f"visitor-{k} (draft)"]
    info = wait_for_end(run, layout.runs_root())
    assert (info.status, info.step) == ("done", 12)
    assert [m["step"] for m in store.read_metrics(run) if "loss" in m] == list(range(1, 13))


@pytest.mark.parametrize("space, env, allowed", [(None, None, True), ("someone/promptlab", None, False),
                                                 ("someone/promptlab", "1", True), (None, "0", False)])
def test_typed_paths_follow_space_id_and_the_override(monkeypatch, space, env, allowed):

    for name, value in (("SPACE_ID", space), ("PROMPTLAB_ALLOW_LOCAL_FILES", env)):
        monkeypatch.delenv(name, raising=False) if value is None else monkeypatch.setenv(name, value)
    assert settings.local_files_allowed() is allowed
