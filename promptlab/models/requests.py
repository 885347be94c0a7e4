"""What the scorer asks a language model, and what it answers: plain values, torch-free, so that scoring code and
the web app's server process can build and read them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """Score `continuation` after `context`."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LogLikelihood:
    logprob: float  # sum of the continuation tokens' log-probabilities
    n_tokens: int
    is_greedy: bool  # every continuation token is the model's argmax
