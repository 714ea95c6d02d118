"""Public names a package re-exports, imported on first use (PEP 562 module ``__getattr__``).

Used by the package root and ``iadbench.views.leaderboard``: both re-export names from heavier
modules, and every command imports the root (``iadbench --help`` included) while the run summary
imports the leaderboard package for two small helpers. Each keeps ``TYPE_CHECKING`` imports of
what it exports, so type checkers and the layer test see the real dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``homes[name]`` once, then caches it.

    Example:
        >>> getter = lazy_exports("iadbench", {"Sample": "iadbench.contract.records"})
        >>> getter("Sample").__name__
        'Sample'
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)  # the next access skips __getattr__
        return value

    return __getattr__
