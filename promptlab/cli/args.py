"""Argument types shared by the commands: whole numbers with a range, said the way a person reads them."""

from __future__ import annotations

import argparse


def non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def share(text: str) -> float:
    """A fraction of the rows: 0 (none) up to, not including, 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to below 1 (e.g. 0.2), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to below 1 (e.g. 0.2 for 20% of the rows), got {value:g}")
    return value


def add_holdout(parser) -> None:
    """--val-fraction and --split-seed: the validation split held out of data with one split (data.splits)."""
    parser.add_argument("--val-fraction", type=share, metavar="F",
                        help="data with one split (a single file): hold F of its rows out as the validation split, "
                             "stratified by label; the rest are for demonstrations and tuning (default 0.2; 0: no "
                             "split, so the rows scored are also the demonstration rows)")
    parser.add_argument("--split-seed", type=non_negative, default=0, help="seed of that split (default 0)")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
