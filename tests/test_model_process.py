"""The model process: it scores exactly as this process would, reports progress, carries the engine's errors back,
and outlives the death of its child."""

from __future__ import annotations

import sys

import pytest
from test_scoring import ROWS, SENTIMENT

from promptlab.models.lm import load_lm
from promptlab.models.process import LoadedModels, ModelProcess
from promptlab.scoring.experiment import score_template


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    process = ModelProcess(str(tiny_model_dir))
    yield process
    process.close()


def test_scores_as_this_process_would(scorer, tiny_model_dir):
    options = dict(pool=ROWS, shots=2, seeds=2, seed=3)
    here = score_template(load_lm(str(tiny_model_dir)), SENTIMENT, ROWS[:6], **options)
    there = scorer.score(SENTIMENT, ROWS[:6], **options)
    assert there.metrics == pytest.approx(here.metrics)
    assert there.table.drop(columns=[c for c in here.table if c.startswith("p(")]).equals(
        here.table.drop(columns=[c for c in here.table if c.startswith("p(")]))
    assert there.table.filter(like="p(").to_numpy() == pytest.approx(here.table.filter(like="p(").to_numpy())


def test_progress_reaches_the_caller(scorer):
    seen = []
    scorer.score(SENTIMENT, ROWS, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]


def test_a_failing_progress_callback_leaves_nothing_for_the_next_request(scorer):
    def fail(done, total):
        raise RuntimeError("the page went away")

    with pytest.raises(RuntimeError, match="the page went away"):
        scorer.score(SENTIMENT, ROWS, progress=fail)
    assert scorer.score(SENTIMENT, ROWS[:5]).n == 5  # its own answer, not the leftovers of the one before


def test_engine_errors_arrive_as_they_were_raised(scorer, tmp_path):
    with pytest.raises(ValueError, match="No PEFT adapter at .*adapter_config.json is missing"):
        scorer.score(SENTIMENT, ROWS, adapter=str(tmp_path))
    with pytest.raises(ValueError, match="seeds must be 1 or more"):
        scorer.score(SENTIMENT, ROWS, seeds=0)
    assert scorer.score(SENTIMENT, ROWS[:3]).n == 3  # and it goes on serving


def test_a_child_killed_mid_request_is_reported_then_replaced(scorer):
    killed = []

    def kill_on_first_progress(done, total):
        if not killed:
            killed.append(scorer._process.pid)
            scorer._process.kill()

    with pytest.raises(ValueError, match="model process stopped while scoring .*killed.*next request starts it"):
        scorer.score(SENTIMENT, ROWS, progress=kill_on_first_progress)
    assert scorer.score(SENTIMENT, ROWS[:4]).n == 4
    assert scorer._process.pid != killed[0]


def test_the_serving_process_never_imports_torch_for_a_report(tiny_model_dir):
    """The app's process unpickles Reports: that must not pull in torch (seconds of imports on a small machine)."""
    import subprocess

    code = ("import sys\nfrom promptlab.models.process import ModelProcess\n"
            "from promptlab.prompts.values import Template\n"
            "t = Template('t', 'Review: {{ text }}\\nSentiment:', '{{ label }}', ('negative', 'positive'))\n"
            "if __name__ == '__main__':\n"
            f"    report = ModelProcess({str(tiny_model_dir)!r}).score(t, [{{'text': 'fine', 'label': 'positive'}}])\n"
            "    print(report.n, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "False"], out.stderr[-2000:]


def test_loaded_models_keeps_the_most_recent(tiny_model_dir):
    models = LoadedModels(limit=1)
    first = models.get(str(tiny_model_dir))
    assert models.get(str(tiny_model_dir)) is first
    models.get(str(tiny_model_dir), device="cpu")  # another key evicts the first
    assert models.get(str(tiny_model_dir)) is not first


def test_scoring_keeps_to_one_thread_while_a_job_trains(monkeypatch, runs_dir):
    """A worker that trains holds a device slot; the app's scoring then asks the model process for one thread."""
    from promptlab.runs import queue
    from promptlab.ui import state

    monkeypatch.setenv("PROMPTLAB_RUNS", str(runs_dir))
    asked = []

    class Scorer:
        def score(self, template, rows, **options):
            asked.append(options["threads"])

    monkeypatch.setattr(state, "_scorer", Scorer())
    assert queue.slots_in_use(runs_dir) == 0
    state.score(SENTIMENT, ROWS)
    slot = queue.try_acquire_slot(runs_dir)  # this process plays the training worker
    assert queue.slots_in_use(runs_dir) == 1
    state.score(SENTIMENT, ROWS)
    slot.close()
    assert queue.slots_in_use(runs_dir) == 0
    assert asked == [0, 1]
