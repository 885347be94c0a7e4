"""Row selection: which rows are evaluated and which rows are shown as demonstrations. One policy, used by every
caller (the app's tabs, the CLI, the tuning worker and its baselines, benchmarks), so the same data, sizes and
seeds always select the same rows.

>>> rows = [{"text": f"row {i}", "label": "pos" if i % 2 else "neg"} for i in range(10)]
>>> evaluation_rows(rows, 3)
[{'text': 'row 2', 'label': 'neg'}, {'text': 'row 6', 'label': 'neg'}, {'text': 'row 7', 'label': 'pos'}]
>>> sample_shots(rows, 2, seed=0, method="balanced", label_column="label")
[{'text': 'row 8', 'label': 'neg'}, {'text': 'row 7', 'label': 'pos'}]
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from itertools import islice

from promptlab.data.datasets import is_missing, natural_key
from promptlab.messages import Message, UserError

SAMPLING_METHODS = ("random", "balanced", "fixed")
EVAL_SEED = 0  # the evaluation subset's seed: fixed, so that every screen and every run scores the same rows


def evaluation_rows(rows: list[dict], n: int | None = None) -> list[dict]:
    """The rows that are scored when `n` of a split's rows are asked for: a seeded subset, in the split's order,
    the same for the Data tab, Studio, Compare, a tuning run's evaluations and baselines, and `promptlab score
    --limit`. A smaller n gives a subset of a larger one; None (or n >= len(rows)) gives every row."""
    return list(rows) if n is None else sample_rows(rows, n, EVAL_SEED)


def demonstration_pool(rows: list[dict], label_column: str | None) -> list[dict]:
    """The rows demonstrations are drawn from: every row of the train split that has a label (an unlabelled row
    cannot show its answer). The whole split, not a sample of it: the samplers cost O(shots), whatever its size."""
    if label_column is None:
        return list(rows)
    return [row for row in rows if not is_missing(row.get(label_column))]


def sample_shots(
    pool: list[dict],
    k: int,
    seed: int,
    *,
    method: str = "random",
    label_column: str | None = None,
    indices: Sequence[int] = (),
    exclude: Sequence[dict] = (),
) -> list[dict]:
    """Pick `k` demonstrations from `pool`, never a row equal to one in `exclude` (the query row).

    The seed fixes the rows and their order. For one seed, the shots of different queries are the same rows in the
    same places, except that a row equal to the query is replaced by the next candidate.
    `random`: seeded draw. `balanced`: classes as equal as possible (round robin over classes in seeded order,
    then a seeded order). `fixed`: exactly `pool[i] for i in indices`.

    >>> rows = [{"text": f"row {i}"} for i in range(10)]
    >>> sample_shots(rows, 2, seed=0, exclude=[rows[0]])
    [{'text': 'row 6'}, {'text': 'row 7'}]
    """
    if k < 0:
        raise UserError("sampling.negative_shots", k=k)
    if method == "fixed":
        return _fixed(pool, k, indices, exclude)
    if method not in SAMPLING_METHODS:
        raise UserError("sampling.unknown_method", method=method, methods=", ".join(SAMPLING_METHODS))
    if k == 0:
        return []
    rng = random.Random(seed)
    if method == "balanced":
        picked = _balanced(pool, k, rng, label_column, exclude)
    else:
        picked = _take(_shuffled(len(pool), rng), k, lambda i: pool[i] in exclude)
    if picked is None:
        raise UserError(_too_few_message(pool, k, exclude, label_column if method == "balanced" else None))
    return [pool[i] for i in picked]


def sample_rows(rows: list[dict], n: int, seed: int) -> list[dict]:
    """A seeded subset of `n` rows in their original order (all rows when n >= len(rows)).

    A smaller n picks a subset of what a larger n picks with the same seed.
    >>> sample_rows([{"i": i} for i in range(10)], 3, seed=0)
    [{'i': 2}, {'i': 6}, {'i': 7}]
    """
    if n < 0:
        raise UserError("sampling.negative_rows", n=n)
    if n >= len(rows):
        return list(rows)
    return [rows[i] for i in sorted(islice(_shuffled(len(rows), random.Random(seed)), n))]


def _shuffled(n: int, rng: random.Random) -> Iterator[int]:
    """A seeded permutation of range(n), made lazily (Fisher-Yates, one swap per item): taking the first m costs
    O(m), and the first m items are the same however many are taken."""
    moved: dict[int, int] = {}
    for i in range(n):
        j = rng.randrange(i, n)
        current = moved.pop(i, i)
        if j == i:
            yield current
        else:
            yield moved.get(j, j)
            moved[j] = current


def _take(order: Iterator[int], k: int, excluded) -> list[int] | None:
    """The first k of `order`, each excluded one replaced in place by the next allowed one; None if too few."""
    first = list(islice(order, k))
    if len(first) < k:
        return None
    spares = (i for i in order if not excluded(i))
    picked = [i if not excluded(i) else next(spares, None) for i in first]
    return None if None in picked else picked


def _balanced(pool, k, rng, label_column, exclude) -> list[int] | None:
    if label_column is None:
        columns = ", ".join(pool[0]) if pool else Message("data.none")
        raise UserError("sampling.balanced_needs_labels", columns=columns)
    members: dict[str, list[int]] = {}
    for i, row in enumerate(pool):
        if not is_missing(row.get(label_column)):
            members.setdefault(str(row[label_column]), []).append(i)
    classes = sorted(members, key=natural_key)
    rng.shuffle(classes)
    # one generator per class, each with its own seed, so a replacement in one class never shifts another
    seeds = {label: rng.getrandbits(64) for label in classes}
    picks = _balanced_picks(pool, k, classes, members, seeds, exclude, exact=False)
    if picks is None and exclude:  # a class ran short once the query row was left out: plan with exact counts
        picks = _balanced_picks(pool, k, classes, members, seeds, exclude, exact=True)
    if picks is None:
        return None
    slots = [picks[label][r] for r in range(k) for label in classes if r < len(picks[label])]
    rng.shuffle(slots)
    return slots


def _balanced_picks(pool, k, classes, members, seeds, exclude, exact: bool) -> dict[str, list[int]] | None:
    capacity = {
        label: sum(pool[i] not in exclude for i in members[label]) if exact else len(members[label])
        for label in classes
    }
    quota, left = dict.fromkeys(classes, 0), k
    while left:  # round robin in the seeded class order: the first classes get the odd extra rows
        open_classes = [label for label in classes if quota[label] < capacity[label]][:left]
        if not open_classes:
            return None
        for label in open_classes:
            quota[label] += 1
        left -= len(open_classes)
    picks = {}
    for label in classes:
        rows = members[label]
        order = _shuffled(len(rows), random.Random(seeds[label]))
        taken = _take(order, quota[label], lambda j, rows=rows: pool[rows[j]] in exclude)
        if taken is None:
            return None
        picks[label] = [rows[j] for j in taken]
    return picks


def _fixed(pool: list[dict], k: int, indices: Sequence[int], exclude: Sequence[dict]) -> list[dict]:
    if len(indices) != k:
        raise UserError("sampling.fixed_count", n=len(indices), k=k)
    for index in indices:
        if not 0 <= index < len(pool):
            raise UserError("sampling.index_out_of_range", index=index, n=len(pool), last=len(pool) - 1)
        if pool[index] in exclude:
            raise UserError("sampling.index_is_query", index=index)
    return [pool[index] for index in indices]


def _too_few_message(pool: list[dict], k: int, exclude: Sequence[dict], label_column: str | None) -> Message:
    usable = [row for row in pool if row not in exclude]
    without_query = len(usable) < len(pool)
    if label_column is not None:
        usable = [row for row in usable if not is_missing(row.get(label_column))]
    key = "sampling.too_few" + ("_without_query" if without_query else "") + ("_labelled" if label_column else "")
    return Message(key, k=k, n=len(usable), column=label_column)
