"""Load figures: N concurrent visitors on loopback previewing and comparing while one tuning job trains.

Run (from the repository root, with the project's venv; traffic goes to 127.0.0.1 only):

    python benchmarks/load.py                      # 10 visitors x 3 rounds, tiny random model, ~1-2 min on 2 cores
    python benchmarks/load.py --model smollm2-135m-instruct --rounds 2   # the bundled model (slower, realistic)
    python benchmarks/load.py --json               # the last stdout line is one JSON object
    python benchmarks/load.py --in-process         # the model in the app's process (ZeroGPU), for comparison

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
              reference="")


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
            out = client.predict(*editor, ["draft"], 0, 1, "random", "en", api_name="/compare")
            timings["compare"].append(time.perf_counter() - t0)
            names = [r[0] for r in out[0]["data"]]
            if names != [f"visitor-{k} (draft)"]:
                errors.append(f"visitor {k}: compare answered someone else's request: {names}")
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        errors.append(f"visitor {k}: {type(error).__name__}: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4, help="rows per preview (compare uses at least 4)")
    parser.add_argument("--model", help="model id (default: a tiny random Llama built on the fly)")
    parser.add_argument("--no-job", action="store_true", help="no tuning job in the background")
    parser.add_argument("--in-process", action="store_true",
                        help="score in the app's own process (as on a ZeroGPU Space), not in a model process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="promptlab-load-"))
    os.environ.setdefault("PROMPTLAB_RUNS", str(scratch / "runs"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = args.model or str(tiny_model(scratch / "tiny"))

    from test_tuning_fixtures import make_spec, write_task

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
    timings: dict[str, list[float]] = {"check": [], "preview": [], "compare": []}
    errors: list[str] = []
    warm = threading.Thread(target=visitor, args=(url, 999, 1, args.rows, {k: [] for k in timings}, []))
    warm.start()
    warm.join()  # the model load is not what we measure
    start = time.perf_counter()
    with ThreadPoolExecutor(args.visitors) as pool:
        for k in range(args.visitors):
            pool.submit(visitor, url, k, args.rounds, args.rows, timings, errors)
    wall = time.perf_counter() - start
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
              "wall_s": round(wall, 2), "errors": errors, "job": job}
    for action, values in timings.items():
        if values:
            result[action] = {"n": len(values), "p50_s": round(statistics.median(values), 3),
                              "p95_s": round(percentile(values, 0.95), 3), "max_s": round(max(values), 3)}
    for action in timings:
        if action in result:
            r = result[action]
            print(f"{action:<8} n={r['n']:<4} p50 {r['p50_s']:.3f} s   p95 {r['p95_s']:.3f} s   max {r['max_s']:.3f} s")
    print(f"{result['scoring']}: wall {wall:.1f} s, errors {len(errors)}, job {job}")
    for error in errors:
        print("  ", error)
    if args.json:
        print(json.dumps(result))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
