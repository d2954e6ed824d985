"""The runnable examples in the metrics' docstrings give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "poseviz.metrics.functional.position",
    "poseviz.metrics.functional.pck",
    "poseviz.metrics.functional.structure",
    "poseviz.metrics.functional.psim",
    "poseviz.metrics.suite",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.attempted > 0 and result.failed == 0
