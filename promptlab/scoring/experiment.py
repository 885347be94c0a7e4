"""The one road from (template, rows, shots, seeds) to scores: the CLI, the web app and tuning all take it.

    report = score_template(lm, template, eval_rows, Protocol(shots=4, seeds=5), pool=train_rows)
    report.metrics["acc"], report.metrics["acc_std"]

Demonstrations: for each seed one set of `shots` rows is drawn from `pool` and used for every query row (the
"prompt" a user would deploy), except that a query row never sees itself as a demonstration (the sampler replaces
it by the next candidate). Calibration uses the same demonstrations with content-free inputs.

Model families: a template must suit the model's family (a cloze template with {{ mask }} needs a masked LM, which
in turn cannot generate); `render_options` says so before anything is scored, and gives the rendering what the
model needs (its mask token for {{ mask }}, its chat template for chat templates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from promptlab.data.sampling import sample_shots
from promptlab.messages import UserError
from promptlab.models.families import template_problem
from promptlab.prompts.render import DEFAULT_MASK_TEXT, is_cloze, render, render_content_free
from promptlab.prompts.values import Example, Template
from promptlab.scoring.evaluate import EvalResult, evaluate
from promptlab.scoring.metrics import aggregate

CONTENT_FREE = ("N/A", "", "[MASK]")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Protocol:
    """How a template is scored: zero-shot, or `shots` demonstrations drawn by `sampler` for each of `seeds`
    seeds starting at `seed` (or the rows at `indices`, with sampler "fixed"). The same protocol on the same rows
    gives the same figures wherever it is used: Studio, Compare, the Tune plot's baselines, the CLI.
    `generate`: also decode a free answer for each row of the first seed (the studio shows it)."""

    shots: int = 0
    seeds: int = 1
    seed: int = 0
    sampler: str = "random"
    indices: tuple[int, ...] = ()
    generate: bool = False

    def __post_init__(self):
        if self.shots < 0:
            raise UserError("scoring.negative_shots", shots=self.shots)
        if self.seeds < 1:
            raise UserError("scoring.no_seeds", seeds=self.seeds)

    @property
    def seed_list(self) -> range:
        """The demonstration seeds (zero-shot has nothing to vary: one)."""
        return range(self.seed, self.seed + (self.seeds if self.shots else 1))


ZERO_SHOT = Protocol()


@dataclass
class Report:
    """Scores of one template on one set of rows: the first seed's table, metrics aggregated over seeds."""

    template: str
    mode: str
    table: pd.DataFrame
    metrics: dict[str, float]
    per_seed: list[dict[str, float]] = field(default_factory=list)
    confusion: pd.DataFrame | None = None
    n: int = 0
    shots: int = 0
    seconds: float = 0.0


def render_options(lm, template: Template) -> dict:
    """`build_examples` / `content_free_examples` options for scoring `template` with `lm`: `wrap` (the model's chat
    template, for chat templates) and `mask` (its mask token, for cloze templates). Raises a ValueError saying what
    to do when the model's family cannot score the template."""
    family = getattr(lm, "family", None)
    if family is not None:
        problem = template_problem(family, mode=template.mode, cloze=is_cloze(template), model=lm.name)
        if problem:
            raise UserError("template.cannot_be_scored", name=template.name, problem=problem)
    return {"wrap": lm.wrap_chat if template.chat else None,
            "mask": getattr(lm, "mask_token", None) or DEFAULT_MASK_TEXT}


def build_examples(template: Template, rows: Sequence[dict], *, pool: Sequence[dict] = (), shots: int = 0,
                   seed: int = 0, sampler: str = "random", label_column: str | None = None,
                   indices: Sequence[int] = (), wrap: Callable[[str], str] | None = None,
                   mask: str = DEFAULT_MASK_TEXT) -> list[Example]:
    """Render `rows` with `shots` seeded demonstrations from `pool` (never the query row itself).

    `wrap` post-processes each final prompt (e.g. `lm.wrap_chat` for chat templates); `mask` is what a cloze
    template's {{ mask }} renders as (the model's mask token).
    """
    if shots < 0:
        raise UserError("scoring.negative_shots", shots=shots)
    examples = []
    for row in rows:
        demos = sample_shots(list(pool), shots, seed, method=sampler, label_column=label_column,
                             indices=indices, exclude=(row,)) if shots else ()
        example = render(template, row, demos, mask=mask)
        examples.append(replace(example, prompt=wrap(example.prompt)) if wrap else example)
    return examples


def content_free_examples(template: Template, *, pool: Sequence[dict] = (), shots: int = 0, seed: int = 0,
                          sampler: str = "random", label_column: str | None = None, indices: Sequence[int] = (),
                          wrap: Callable[[str], str] | None = None, mask: str = DEFAULT_MASK_TEXT) -> list[Example]:
    """The template rendered with content-free inputs ("N/A", "", "[MASK]") and the seed's demonstrations.

    Empty when the answer choices depend on the row (calibration needs fixed choices). A cloze template skips a
    filler that is its mask text (a second slot).
    """
    if template.mode != "rank" or isinstance(template.answer_choices, str):
        return []
    demos = sample_shots(list(pool), shots, seed, method=sampler, label_column=label_column,
                         indices=indices) if shots else ()
    fillers = [f for f in CONTENT_FREE if not (is_cloze(template) and f == mask)]
    examples = [render_content_free(template, demos, filler, mask=mask) for filler in fillers]
    return [replace(e, prompt=wrap(e.prompt)) for e in examples] if wrap else examples


def score_template(lm, template: Template, rows: Sequence[dict], protocol: Protocol = ZERO_SHOT, *,
                   pool: Sequence[dict] = (), label_column: str | None = None,
                   progress: Progress | None = None) -> Report:
    """Score `template` on `rows` under `protocol`, demonstrations drawn from `pool` (`label_column` for the
    balanced sampler); metrics are averaged over the protocol's seeds, with their spread."""
    start = time.perf_counter()
    options = render_options(lm, template)
    results: list[EvalResult] = []
    for n, demo_seed in enumerate(protocol.seed_list):
        kwargs = dict(pool=pool, shots=protocol.shots, seed=demo_seed, sampler=protocol.sampler,
                      label_column=label_column, indices=protocol.indices, **options)
        examples = build_examples(template, rows, **kwargs)
        free = content_free_examples(template, **kwargs)
        step = _seed_progress(progress, n, len(protocol.seed_list))
        results.append(evaluate(lm, examples, content_free=free, generate=protocol.generate and n == 0,
                                progress=step))
    per_seed = [r.metrics for r in results]
    metrics = aggregate(per_seed) if protocol.shots and per_seed[0] else per_seed[0]
    first = results[0]
    return Report(template.name, first.mode, first.table, metrics, per_seed, first.confusion, len(rows),
                  protocol.shots, time.perf_counter() - start)


def _seed_progress(progress: Progress | None, seed_index: int, n_seeds: int) -> Progress | None:
    """Progress over all seeds from one seed's (done, total)."""
    if progress is None:
        return None
    return lambda done, total: progress(seed_index * total + done, n_seeds * total)
