"""The model process: scores exactly as this process would (the same scorer, over short model calls), carries the
engine's errors back, and outlives the death of its child."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_scoring import ROWS, SENTIMENT

from promptlab.models.lm import load_lm
from promptlab.models.loaded import Call, LoadedModels, LocalModels, Unloaded, weights_bytes
from promptlab.models.process import ModelProcess
from promptlab.models.requests import Request
from promptlab.models.shared import SharedLM
from promptlab.scoring.experiment import Protocol, score_template

pytestmark = pytest.mark.jobs  # starts tuning jobs, model processes or other child processes


@pytest.fixture(scope="module")
def process(tiny_model_dir):
    models = ModelProcess(str(tiny_model_dir))
    yield models
    models.close()


def shared(process, tiny_model_dir, **options) -> SharedLM:
    return SharedLM(process, str(tiny_model_dir), **options)


def test_scores_as_this_process_would(process, tiny_model_dir):
    protocol = Protocol(shots=2, seeds=2, seed=3)
    here = score_template(load_lm(str(tiny_model_dir)), SENTIMENT, ROWS[:6], protocol, pool=ROWS)
    there = score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS[:6], protocol, pool=ROWS)
    assert there.metrics == pytest.approx(here.metrics)
    assert there.table.drop(columns=[c for c in here.table if c.startswith("p(")]).equals(
        here.table.drop(columns=[c for c in here.table if c.startswith("p(")]))
    assert there.table.filter(like="p(").to_numpy() == pytest.approx(here.table.filter(like="p(").to_numpy())


def test_generation_and_chat_wrapping_go_through_the_process(process, tiny_model_dir):
    lm, here = shared(process, tiny_model_dir), load_lm(str(tiny_model_dir))
    prompts = [f"Review: {row['text']}\nSentiment:" for row in ROWS[:10]]
    assert lm.generate(prompts, max_new_tokens=4) == here.generate(prompts, max_new_tokens=4)


def test_progress_reaches_the_caller(process, tiny_model_dir):
    seen = []
    score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1]


def test_a_failing_progress_callback_leaves_nothing_for_the_next_request(process, tiny_model_dir):
    def fail(done, total):
        raise RuntimeError("the page went away")

    with pytest.raises(RuntimeError, match="the page went away"):
        score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS, progress=fail)
    assert score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS[:5]).n == 5


def test_engine_errors_arrive_as_they_were_raised(process, tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="No PEFT adapter at .*adapter_config.json is missing"):
        score_template(shared(process, tiny_model_dir, adapter=str(tmp_path)), SENTIMENT, ROWS)
    with pytest.raises(ValueError, match="Unknown model call"):
        process.call(Call("train", str(tiny_model_dir)))
    assert score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS[:3]).n == 3  # it goes on serving


def test_a_child_killed_mid_request_is_reported_then_replaced(process, tiny_model_dir):
    killed = []

    def kill_on_first_progress(done, total):
        if not killed:
            killed.append(process.pid)
            process._process.kill()

    with pytest.raises(ValueError, match="model process stopped while scoring .*killed.*next request starts it"):
        score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS * 3, progress=kill_on_first_progress)
    assert score_template(shared(process, tiny_model_dir), SENTIMENT, ROWS[:4]).n == 4
    assert process.pid != killed[0]


def test_the_serving_process_never_imports_torch_to_score(tiny_model_dir):
    """The app's process renders templates and computes metrics; only its model process needs torch."""
    code = ("import sys\nfrom promptlab.models.process import ModelProcess\n"
            "from promptlab.models.shared import SharedLM\n"
            "from promptlab.prompts.values import Template\nfrom promptlab.scoring.experiment import score_template\n"
            "t = Template('t', 'Review: {{ text }}\\nSentiment:', '{{ label }}', ('negative', 'positive'))\n"
            "if __name__ == '__main__':\n"
            f"    lm = SharedLM(ModelProcess({str(tiny_model_dir)!r}), {str(tiny_model_dir)!r})\n"
            "    report = score_template(lm, t, [{'text': 'fine', 'label': 'positive'}])\n"
            "    print(report.n, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "False"], out.stderr[-2000:]


def test_models_stay_loaded_while_they_fit_and_the_least_recently_used_makes_room(tiny_model_dir, tiny_t5_dir,
                                                                                      tiny_bert_dir):
    """Sizes (fp32): Llama 0.39 MB, BERT 0.40 MB, T5 0.73 MB. A 1.2 MB budget holds Llama and BERT; T5 then unloads
    the one used least recently (BERT: Llama was used after it), and says so."""
    llama, t5, bert = str(tiny_model_dir), str(tiny_t5_dir), str(tiny_bert_dir)
    models, notes = LoadedModels(memory_mb=1.2), []
    first = models.get(llama, notes=notes)
    models.get(bert, notes=notes)
    assert models.get(llama, notes=notes) is first and notes == []  # both fit: nothing unloaded
    models.get(t5, notes=notes)
    assert notes == [Unloaded(bert, t5)] and str(notes[0]) == f"Unloaded {bert} to make room for {t5}."
    assert [m for m, _, _ in models.loaded()] == [llama, t5]
    assert models.get(llama) is first  # still loaded: not loaded again
    sizes = {m: size for m, _, size in models.loaded()}
    assert sizes[llama] == pytest.approx(weights_bytes(tiny_model_dir), rel=0.01)  # the estimate is the size


def test_a_model_that_alone_exceeds_the_budget_is_refused_before_it_loads(tiny_model_dir, tiny_t5_dir):
    models = LoadedModels(memory_mb=0.5)
    models.get(str(tiny_model_dir))
    with pytest.raises(ValueError, match=r"needs about 0.73 MB for its weights, more than this server's model "
                                         r"memory budget of 0.5 MB \(PROMPTLAB_MODEL_MEMORY_MB\)"):
        models.get(str(tiny_t5_dir))
    assert [m for m, _, _ in models.loaded()] == [str(tiny_model_dir)]  # nothing was unloaded for it


def test_the_budget_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("PROMPTLAB_MODEL_MEMORY_MB", "250")
    assert LoadedModels().budget == 250_000_000
    monkeypatch.setenv("PROMPTLAB_MODEL_MEMORY_MB", "0")
    assert LoadedModels().budget is None  # no limit


def test_the_process_says_which_model_it_unloaded(tiny_model_dir, tiny_t5_dir):
    """Through the model process: a SharedLM on a second model that does not fit beside the first collects the note;
    the load call tells each model's size and the budget."""
    models = ModelProcess(str(tiny_model_dir), memory_mb=1.0)
    try:
        t5 = SharedLM(models, str(tiny_t5_dir))
        t5.loglikelihood([Request("Review: fine\nSentiment:", " positive")])
        assert t5.notes == [Unloaded(str(tiny_model_dir), str(tiny_t5_dir))]
        answer = models.call(Call("load", str(tiny_model_dir)), notes := [])
        assert notes == [Unloaded(str(tiny_t5_dir), str(tiny_model_dir))]
        assert answer["family"] == "causal" and answer["budget"] == 1_000_000
        assert answer["loaded"] == [[str(tiny_model_dir), None, answer["bytes"]]] and answer["bytes"] > 300_000
    finally:
        models.close()


def test_local_models_answer_like_the_process(process, tiny_model_dir):
    call = Call("loglikelihood", str(tiny_model_dir), args=([Request("Review: fine\nSentiment:", " positive")],))
    assert LocalModels().call(call)[0].logprob == pytest.approx(process.call(call)[0].logprob)


def test_scoring_keeps_to_one_thread_while_a_job_trains(monkeypatch, runs_dir, tiny_model_dir):
    """A worker that trains holds a device slot; the app's model calls then ask for one thread."""
    from promptlab.runs import queue
    from promptlab.ui import state

    monkeypatch.setenv("PROMPTLAB_RUNS", str(runs_dir))
    state.configure(model_id=str(tiny_model_dir))
    asked = []

    class Recorder(LocalModels):
        def call(self, call, notes=None):
            asked.append(call.threads)
            return super().call(call, notes)

    monkeypatch.setattr(state, "_local", Recorder())
    assert queue.slots_in_use(runs_dir) == 0
    state.score(SENTIMENT, ROWS[:2])
    assert asked and set(asked) == {0}  # every core
    asked.clear()
    slot = queue.try_acquire_slot(runs_dir)  # this process plays the training worker
    assert queue.slots_in_use(runs_dir) == 1
    state.score(SENTIMENT, ROWS[:2])
    slot.close()
    assert queue.slots_in_use(runs_dir) == 0
    assert asked and set(asked) == {1}


def test_a_shared_masked_lm_renders_its_own_mask_token(tiny_roberta_dir):
    """Cloze templates through the app's shared model: `{{ mask }}` renders as the model's token (<mask> here),
    known from the model process, and the scores are this process's."""
    from promptlab.prompts.values import Template

    cloze = Template("cloze", "{{ text }} It was {{ mask }}.", "{{ label }}", ("negative", "positive"))
    rows = [{"text": f"a {'great' if i % 2 else 'bad'} movie", "label": ("negative", "positive")[i % 2]}
            for i in range(6)]
    shared = SharedLM(LocalModels(), str(tiny_roberta_dir))
    assert (shared.family, shared.mask_token) == ("masked", "<mask>")
    here = score_template(load_lm(str(tiny_roberta_dir)), cloze, rows)
    there = score_template(shared, cloze, rows)
    assert "<mask>" in there.table["prompt"][0] and there.metrics == pytest.approx(here.metrics)


def test_a_weights_file_without_a_readable_header_counts_by_its_size(tmp_path):
    """The estimate never fails on a damaged file (loading it says what is wrong): it counts the bytes."""
    (tmp_path / "model.safetensors").write_bytes(b"\x05\0\0\0\0\0\0\0{bad}" + b"x" * 95)
    assert weights_bytes(tmp_path) == 108
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)  # a header length beyond any real one
    assert weights_bytes(tmp_path, itemsize=2) == 32
