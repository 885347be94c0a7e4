"""Load figures: N concurrent visitors on loopback previewing and comparing while one tuning job trains, and the
same again beside an abusive visitor.

Run (from the repository root, with the project's venv; traffic goes to 127.0.0.1 only):

    python benchmarks/load.py                      # 10 visitors x 3 rounds, tiny random model, ~1-2 min on 2 cores
    python benchmarks/load.py --model smollm2-135m-instruct --rounds 2   # the bundled model (slower, realistic)
    python benchmarks/load.py --abusive            # then the same load beside an abusive visitor (public settings)
    python benchmarks/load.py --json               # the last stdout line is one JSON object
    python benchmarks/load.py --in-process         # the model in the app's process (ZeroGPU), for comparison

With --abusive the app runs with a public server's settings (PROMPTLAB_PUBLIC=1; training allowed for the job) and
the load runs twice in one process: first the ordinary visitors alone, then the same visitors while an abusive one
repeats the worst request of each kind of issue 12 within its budgets: a format width that would build 100 MB, a
template looping over sorts (live check and Preview), a 2 MB template, a template nested 500 deep, an upload of a
Parquet file that expands to gigabytes, and a Compare at the form's maximum (every fitting template, 8 shots, 10
seeds, every evaluation row). It prints both runs' latencies and the ratio of their p95 preview latencies.

Each visitor is its own `gradio_client.Client` (its own session): it loads the demo task, types a draft whose prompt
carries its own marker ("Visitor 7 asks: ..."), then alternates Preview (N rows) and Compare (its draft). Every
answer is checked to belong to its own request: every prompt in its preview table carries its marker and its
comparison names its draft (no cross-talk between sessions). Meanwhile one soft-prompt tuning job trains on the
same CPU (a worker subprocess); it must end "done" with every step in its curve. Prints p50/p95/max latency per
action. These are figures, not a test: tests/hardening/test_app.py holds the functional (untimed) version.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

FIELDS = dict(name="v", instruction="", prompt="", target="{{ label }}", choices="negative ||| positive",
              target_delimiter=" ", fewshot_delimiter="\\n\\n", chat=False, language="en", task="", description="",
              reference="", class_labels="")
SLOW = "{% set b = range(1000)|list * 100 %}{% for i in range(1000) %}{{ b|sort|first }}{% endfor %}{{ text }}"
ATTACKS = {  # name -> the editor's prompt field (a template) or a request kind
    "format width": '{{ "{:{}}".format(text, "99999999") }}',
    "sort loop (check)": SLOW,
    "huge template": "{{ text }}" + "x" * 2_000_000,
    "deep nesting": "{{ " + "(" * 500 + "text" + ")" * 500 + " }}",
    "sort loop (preview)": "preview",
    "parquet bomb": "upload",
    "max compare": "compare",
}


def tiny_model(folder: Path) -> Path:
    """The test suite's tiny random Llama (tests/conftest.py), saved in `folder`."""
    import torch
    from helpers import tiny_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def visitor(url: str, k: int, rounds: int, rows: int, timings: dict, errors: list) -> None:
    from gradio_client import Client

    marker = f"Visitor {k} asks: "
    try:
        client = Client(url, verbose=False)
        client.predict("demo-reviews", "en", api_name="/load_source")
        client.predict("en", api_name="/show")  # what the page then shows (API calls do not run chained events)
        client.predict("train", "validation", max(4, rows), "en", api_name="/change_splits")  # Compare's rows
        t0 = time.perf_counter()
        editor = list({**FIELDS, "name": f"visitor-{k}", "prompt": marker + "{{ text }}\nSentiment:"}.values())
        client.predict(*editor, "en", api_name="/check")
        timings["check"].append(time.perf_counter() - t0)
        for _ in range(rounds):
            t0 = time.perf_counter()
            _, table = client.predict(*editor, rows, 0, "random", k, False, "en", api_name="/preview")
            timings["preview"].append(time.perf_counter() - t0)
            table = table["value"]
            prompts = [r[table["headers"].index("prompt")] for r in table["data"]]
            if len(prompts) != rows or not all(p.startswith(marker) for p in prompts):
                errors.append(f"visitor {k}: preview answered someone else's request: {prompts[:1]}")
            t0 = time.perf_counter()
            out = client.predict(*editor, ["draft"], 0, 1, "random", "en", [], api_name="/compare")
            timings["compare"].append(time.perf_counter() - t0)
            names = [r[0] for r in out[0]["data"]]
            if names != [f"visitor-{k} (draft)"]:
                errors.append(f"visitor {k}: compare answered someone else's request: {names}")
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        errors.append(f"visitor {k}: {type(error).__name__}: {error}")


def parquet_bomb(path: Path) -> Path:
    """A Parquet file of a few kilobytes whose one dictionary string, repeated, decodes to about 6 GB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.array(["x" * 1_000_000]).dictionary_encode().take(pa.array([0] * 6000))
    pq.write_table(pa.table({"text": text, "label": pa.array(["positive"] * 6000)}), path, compression="zstd")
    return path


def abuser(url: str, bomb: Path, stop: threading.Event, timings: dict, errors: list, outcomes: dict) -> None:
    """The worst request of each kind, again and again until `stop`; each must be refused or bounded, never fatal."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False)
    client.predict("demo-reviews", "en", api_name="/load_source")
    client.predict("en", api_name="/show")
    from promptlab.ui.tabs.compare import template_choices

    picks = ["draft", *(value for _, value in template_choices("en", None))]  # every shipped template
    while not stop.is_set():
        for name, attack in ATTACKS.items():
            if stop.is_set():
                return
            editor = list({**FIELDS, "name": "abuser", "prompt": attack if "{" in attack else SLOW}.values())
            t0 = time.perf_counter()
            try:
                if attack == "preview":
                    client.predict(*editor, 64, 8, "random", 0, False, "en", api_name="/preview")
                elif attack == "upload":
                    client.predict(handle_file(str(bomb)), "en", api_name="/load_upload")
                elif attack == "compare":
                    plain = list({**FIELDS, "name": "abuser", "prompt": "{{ text }}\nSentiment:"}.values())
                    client.predict(*plain, picks, 8, 10, "random", "en", [], api_name="/compare")
                else:
                    client.predict(*editor, "en", api_name="/check")
                outcome = "answered"
            except AppError as error:  # refused or stopped, as it should be
                outcome = "refused: " + str(error).replace("\n", " ")[:110]
            except Exception as error:  # noqa: BLE001 - anything else is a finding
                errors.append(f"abuser {name}: {type(error).__name__}: {error}")
                outcome = "failed"
            timings.setdefault(name, []).append(time.perf_counter() - t0)
            outcomes[name] = outcome


def run_load(url: str, args, abuse: Path | None = None) -> tuple[dict, list, float, dict, dict]:
    """The ordinary visitors' timings and errors (and the abuser's timings and last outcome of each attack, beside
    them when `abuse` names the bomb)."""
    timings: dict[str, list[float]] = {"check": [], "preview": [], "compare": []}
    errors: list[str] = []
    abused: dict[str, list[float]] = {}
    outcomes: dict[str, str] = {}
    stop = threading.Event()
    bad = threading.Thread(target=abuser, args=(url, abuse, stop, abused, errors, outcomes)) if abuse else None
    if bad:
        bad.start()
        time.sleep(2)  # the abuse is under way before the ordinary visitors come
    start = time.perf_counter()
    with ThreadPoolExecutor(args.visitors) as pool:
        for k in range(args.visitors):
            pool.submit(visitor, url, k, args.rounds, args.rows, timings, errors)
    wall = time.perf_counter() - start
    if bad:
        stop.set()
        bad.join(600)
    return timings, errors, wall, abused, outcomes


def summary(timings: dict) -> dict:
    return {action: {"n": len(values), "p50_s": round(statistics.median(values), 3),
                     "p95_s": round(percentile(values, 0.95), 3), "max_s": round(max(values), 3)}
            for action, values in timings.items() if values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4, help="rows per preview (compare uses at least 4)")
    parser.add_argument("--model", help="model id (default: a tiny random Llama built on the fly)")
    parser.add_argument("--no-job", action="store_true", help="no tuning job in the background")
    parser.add_argument("--in-process", action="store_true",
                        help="score in the app's own process (as on a ZeroGPU Space), not in a model process")
    parser.add_argument("--abusive", action="store_true",
                        help="public settings; the load alone, then beside an abusive visitor (see above)")
    parser.add_argument("--request-seconds", type=float, default=30.0,
                        help="with --abusive: model seconds one request may use (PROMPTLAB_REQUEST_SECONDS)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.abusive:
        os.environ.update(PROMPTLAB_PUBLIC="1", PROMPTLAB_ALLOW_TRAINING="1",
                          PROMPTLAB_REQUEST_SECONDS=str(args.request_seconds))

    scratch = Path(tempfile.mkdtemp(prefix="promptlab-load-"))
    os.environ.setdefault("PROMPTLAB_RUNS", str(scratch / "runs"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = args.model or str(tiny_model(scratch / "tiny"))

    from helpers import make_spec, write_task

    from promptlab.runs import queue, store
    from promptlab.tuning.spec import submit
    from promptlab.ui.app import launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = launch(port=port, model_id=model, preload=not args.in_process, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    run = None
    if not args.no_job:
        run = submit(make_spec(write_task(scratch / "task"), Path(model), max_steps=400, checkpoint_every=50,
                                   eval_every=100, baseline_shots=0))
    warm = threading.Thread(target=visitor, args=(url, 999, 1, args.rows, {k: [] for k in ("check", "preview",
                                                                                       "compare")}, []))
    warm.start()
    warm.join()  # the model load is not what we measure
    timings, errors, wall, _, _ = run_load(url, args)
    abuse = None
    if args.abusive:
        a_timings, a_errors, a_wall, abused, outcomes = run_load(url, args, parquet_bomb(scratch / "bomb.parquet"))
        errors += a_errors
        if "preview" not in summary(a_timings) or "preview" not in summary(timings):
            print("\n".join(errors), file=sys.stderr)
            raise SystemExit("no preview was answered: see the errors above")
        ratio = summary(a_timings)["preview"]["p95_s"] / summary(timings)["preview"]["p95_s"]
        abuse = {"ordinary": summary(a_timings), "wall_s": round(a_wall, 2), "abuser": summary(abused),
                 "outcomes": outcomes, "p95_preview_ratio": round(ratio, 2)}
    job = None
    if run:
        info = store.get_run(run)
        steps = [m["step"] for m in store.read_metrics(run) if "loss" in m]
        job = {"status": info.status, "step": info.step, "curve_intact": steps == list(range(1, len(steps) + 1))}
        if info.status in queue.ACTIVE:
            store.cancel(run, wait=30)
    app.close()

    result = {"scoring": "in-process" if args.in_process else "model process", "visitors": args.visitors,
              "rounds": args.rounds, "rows": args.rows, "model": args.model or "tiny",
              "wall_s": round(wall, 2), "errors": errors, "job": job, **summary(timings), "abusive": abuse}
    print_summary("ordinary visitors alone", summary(timings))
    if abuse:
        print_summary("the same visitors beside the abusive one", abuse["ordinary"])
        print_summary("the abusive visitor's requests (each refused or bounded)", abuse["abuser"])
        for name, outcome in outcomes.items():
            print(f"  {name:<20} {outcome}")
        print(f"p95 preview beside the abuser / alone: {abuse['p95_preview_ratio']:.2f}x")
    print(f"{result['scoring']}: wall {wall:.1f} s, errors {len(errors)}, job {job}")
    for error in errors:
        print("  ", error)
    if args.json:
        print(json.dumps(result))
    return 1 if errors else 0


def print_summary(title: str, figures: dict) -> None:
    print(title)
    for action, r in figures.items():
        print(f"  {action:<20} n={r['n']:<4} p50 {r['p50_s']:.3f} s   p95 {r['p95_s']:.3f} s   max {r['max_s']:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
