"""The package's docstring examples run as tests: an example that could not run would not be written as one."""

from __future__ import annotations

import doctest
import importlib

import pytest
from test_architecture import MODULES

MODULES = sorted(name for name in MODULES if not name.endswith("__main__"))  # importing __main__ runs the CLI


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"


def test_the_examples_are_found():
    examples = sum(len(test.examples) for name in MODULES
                   for test in doctest.DocTestFinder().find(importlib.import_module(name)))
    assert examples > 30
