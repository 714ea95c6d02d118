"""The examples in iadbench's docstrings run (the contract's own example included)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import iadbench

# __main__ runs the CLI when imported.
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(iadbench.__path__, prefix="iadbench.")
    if info.name != "iadbench.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_contract_documents_itself_with_a_runnable_example():
    import iadbench.contract.method

    assert doctest.testmod(iadbench.contract.method).attempted >= 1
