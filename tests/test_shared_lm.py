"""Sharing one model between visitors: short calls taken in turn, a budget of model seconds, a stop, and answers
identical to one long call. A fake backend stands in for the model (its calls take a known time), so these run in
a second."""

from __future__ import annotations

import threading
import time

import pytest

from promptlab.models.requests import LogLikelihood, Request
from promptlab.models.shared import Budget, BudgetExceeded, Cancelled, FairShare, SharedLM


class SlowBackend:
    """Answers each request with its continuation's length as log-probability, after `per_context` seconds per
    distinct context; records who was served, in order."""

    def __init__(self, per_context: float = 0.0):
        self.per_context = per_context
        self.served: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def call(self, call, notes=None):
        assert self.lock.acquire(blocking=False), "two calls ran at once"
        try:
            requests = call.args[0]
            time.sleep(self.per_context * len({r.context for r in requests}))
            self.served.append((requests[0].context.split(":")[0], len(requests)))
            return [LogLikelihood(float(len(r.continuation)), 1, True) for r in requests]
        finally:
            self.lock.release()


def requests(visitor: str, contexts: int, choices=(" a", " bb")) -> list[Request]:
    return [Request(f"{visitor}: row {i}", c) for i in range(contexts) for c in choices]


def test_answers_come_back_in_request_order_whatever_the_calls():
    backend = SlowBackend()
    reqs = requests("x", 100, (" no", " yes", " maybe"))
    reqs = reqs[::2] + reqs[1::2]  # contexts interleaved: the choices of a row are not neighbours
    answers = SharedLM(backend, "m").loglikelihood(reqs)
    assert [a.logprob for a in answers] == [float(len(r.continuation)) for r in reqs]
    assert len(backend.served) > 1  # it was cut into several calls


def test_a_short_request_waits_for_one_call_of_a_long_one_not_all_of_it():
    backend, share = SlowBackend(per_context=0.004), FairShare()
    long_done = []
    long = threading.Thread(target=lambda: long_done.append(
        SharedLM(backend, "m", visitor="long", share=share).loglikelihood(requests("long", 600))))
    long.start()
    time.sleep(0.3)  # the long request is well under way
    start = time.perf_counter()
    SharedLM(backend, "m", visitor="short", share=share).loglikelihood(requests("short", 1))
    waited = time.perf_counter() - start
    assert not long_done, "the long request should still be running"
    long.join()
    assert waited < 1.5  # one call of the long request (about TARGET_CALL_S), never its whole 2.4 s
    short_at = next(i for i, (who, _) in enumerate(backend.served) if who == "short")
    assert 0 < short_at < len(backend.served) - 1  # it ran between two calls of the long request


def test_visitors_take_turns_call_by_call():
    backend, share = SlowBackend(per_context=0.002), FairShare()
    threads = [threading.Thread(target=SharedLM(backend, "m", visitor=v, share=share).loglikelihood,
                                args=(requests(v, 200),)) for v in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order = [who for who, _ in backend.served]
    first_three = order[len(order) // 3: len(order) // 3 + 3]  # mid-run, while all three wait
    assert sorted(first_three) == ["a", "b", "c"]


def test_a_budget_stops_a_request_between_calls_with_what_to_do():
    budget = Budget(0.3)
    lm = SharedLM(SlowBackend(per_context=0.01), "m", budget=budget)
    with pytest.raises(BudgetExceeded, match="used its 0 s share of the model.*fewer rows, shots, seeds or prompts"):
        lm.loglikelihood(requests("x", 500))
    assert 0.3 <= budget.spent < 1.5  # stopped at the first call after the budget ran out
    with pytest.raises(BudgetExceeded):  # the same budget spans the next call of the same request
        SharedLM(SlowBackend(), "m", budget=budget).loglikelihood(requests("y", 1))


def test_a_stop_ends_a_running_request_and_a_waiting_one():
    backend, share, stopped = SlowBackend(per_context=0.004), FairShare(), threading.Event()
    errors = {}

    def run(visitor, n):
        try:
            SharedLM(backend, "m", visitor=visitor, share=share, cancelled=stopped.is_set).loglikelihood(
                requests(visitor, n))
        except Cancelled as error:
            errors[visitor] = error

    threads = [threading.Thread(target=run, args=("running", 1000)), threading.Thread(target=run, args=("w", 1000))]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    stopped.set()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - start < 2
    assert set(errors) == {"running", "w"} and "Stopped, as you asked" in str(errors["running"])
    assert share.waiting() == 0  # nothing left behind in the queue
    SharedLM(backend, "m", share=share).loglikelihood(requests("after", 2))  # the model is free again
