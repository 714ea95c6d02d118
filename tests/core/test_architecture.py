"""The core's layers, read from the source: no module imports a layer above its own.

Layers, bottom to top (``docs/architecture.md`` draws them): contract → data → runs →
analysis → execution → views → cli. The package root (``iadbench/__init__.py``) re-exports the
public API and sits above all of them. Imports inside functions and ``TYPE_CHECKING`` blocks count:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("contract", "data", "runs", "analysis", "execution", "views", "cli")
#: The most iadbench modules one module of the core may import (issue 17: hubs of 12-17 made
#: every change touch everything).
MAX_FAN_OUT = 10


def module_files(package_dir: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module under ``package_dir``."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = (package, *path.relative_to(package_dir).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    """Every dotted name an ``import`` statement of ``path`` names (relative ones resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


CORE = module_files(REPO / "iadbench", "iadbench")
#: Violations that the layered core still has, while issue 17 removes them. A ratchet: a new
#: violation fails, and so does a listed one that is gone (delete it from here). Empty when done.
STILL_TO_REMOVE: set[str] = {
    "iadbench.execution.predict (execution) imports iadbench.views.leaderboard.collect (views)",
    "iadbench.runs.run_records (runs) imports iadbench.analysis.metrics (analysis)",
    "iadbench.runs.run_records (runs) imports iadbench.analysis.statistics (analysis)",
    "iadbench.runs.run_records (runs) imports iadbench.execution.planning (execution)",
    "fan-out iadbench.cli.run 12",
    "fan-out iadbench.execution.planning 12",
    "fan-out iadbench.execution.predict 17",
    "fan-out iadbench.execution.runner 15",
}


def beyond_ratchet(found: list[str], of_kind: Callable[[str], bool]) -> tuple[list, list]:
    """(new violations, listed violations of this kind that are gone)."""
    listed = {v for v in STILL_TO_REMOVE if of_kind(v)}
    return sorted(set(found) - STILL_TO_REMOVE), sorted(listed - set(found))


def core_imports(module: str) -> set[str]:
    """The core modules ``module`` imports (a name that is a module, or a package's)."""
    return {n for n in imported_names(CORE[module], module) if n in CORE and n != module}


def layer_of(module: str) -> int:
    """0-based layer index; the package root (``iadbench``, ``iadbench.__main__``) is on top."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if module in ("iadbench", "iadbench.__main__"):
        return len(LAYERS)
    raise AssertionError(f"{module} lies in no layer: put it in one of {LAYERS}")


def upward_imports(modules: dict[str, Path]) -> list[str]:
    """``module -> imported`` for every import of a layer above the importer's."""
    return [
        f"{module} ({LAYERS[layer_of(module)]}) imports {target} ({LAYERS[layer_of(target)]})"
        for module in modules
        for target in sorted(core_imports(module))
        if layer_of(target) > layer_of(module) and layer_of(target) < len(LAYERS)
    ]


def test_every_core_module_lies_in_a_layer() -> None:
    for module in CORE:
        layer_of(module)


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert beyond_ratchet(upward_imports(CORE), lambda v: ") imports " in v) == ([], [])


def test_the_core_imports_no_method_package() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in CORE.items()
        for name in sorted(imported_names(path, module))
        if name.split(".")[0] == "iadbench_methods" and name.count(".") == 2
    ]
    assert beyond_ratchet(offenders, lambda v: " imports iadbench_methods" in v) == ([], [])


def test_no_core_module_imports_more_than_ten_of_the_core() -> None:
    fan_out = {module: len(core_imports(module)) for module in CORE}
    hubs = [f"fan-out {m} {n}" for m, n in fan_out.items() if n > MAX_FAN_OUT]
    assert beyond_ratchet(hubs, lambda v: v.startswith("fan-out ")) == ([], [])


def public_surface(module: str) -> bool:
    """Whether a method may import core ``module``: the package root or the contract layer."""
    return (
        module == "iadbench"
        or module == "iadbench.contract"
        or module.startswith("iadbench.contract.")
    )


def test_methods_use_only_the_public_surface() -> None:
    methods = module_files(REPO / "methods", "iadbench_methods")
    offenders = [
        f"{module} imports {name}"
        for module, path in methods.items()
        for name in sorted(imported_names(path, module))
        if name in CORE and not public_surface(name)
    ]
    assert beyond_ratchet(offenders, lambda v: v.startswith("iadbench_methods.")) == ([], [])


# --- the rules catch what they are for -----------------------------------------------------------


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """A contract module importing the views layer is reported (the check is not vacuous)."""
    package = tmp_path / "iadbench"
    (package / "contract").mkdir(parents=True)
    (package / "views").mkdir()
    (package / "contract" / "records.py").write_text(
        "def f():\n    from iadbench.views.table import build\n", encoding="utf-8"
    )
    (package / "views" / "table.py").write_text("build = 1\n", encoding="utf-8")
    modules = module_files(package, "iadbench")
    global CORE
    saved, CORE = CORE, modules
    try:
        assert upward_imports(modules) == [
            "iadbench.contract.records (contract) imports iadbench.views.table (views)"
        ]
    finally:
        CORE = saved


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from iadbench.runs import store\n", {"iadbench.runs", "iadbench.runs.store"}),
        ("from .store import x\n", {"iadbench.runs.store", "iadbench.runs.store.x"}),
        ("import iadbench_methods.lr_iad\n", {"iadbench_methods.lr_iad"}),
    ],
)
def test_imports_are_read_from_source(tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "reader.py"
    path.write_text(f"def lazy():\n    {source}", encoding="utf-8")
    assert imported_names(path, "iadbench.runs.reader") == expected
