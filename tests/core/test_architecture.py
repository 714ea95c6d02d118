"""The core's layers, read from the source: no module imports a layer above its own.

Layers, bottom to top (``docs/architecture.md`` draws them): contract → data → runs →
analysis → execution → views → cli. The package root (``iadbench/__init__.py``) re-exports the
public API and sits above all of them. Imports inside functions and ``TYPE_CHECKING`` blocks count:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib
import re
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
    assert upward_imports(CORE) == []


def test_the_core_imports_no_method_package() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in CORE.items()
        for name in sorted(imported_names(path, module))
        if name.split(".")[0] == "iadbench_methods" and name.count(".") == 2
    ]
    assert offenders == []


def test_no_core_module_imports_more_than_ten_of_the_core() -> None:
    fan_out = {module: len(core_imports(module)) for module in CORE}
    hubs = [f"fan-out {m} {n}" for m, n in fan_out.items() if n > MAX_FAN_OUT]
    assert hubs == []


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
    assert offenders == []


def spelled_run_dir_names(path: Path) -> list[str]:
    """The run-dir names (:data:`iadbench.runs.layout.RUN_DIR_NAMES`) a module spells as paths.

    A string constant counts when it is such a name or holds one as a path component
    (``"summary.json"``, ``"runs/x/predictions.jsonl"``); prose that merely mentions a file (an
    error message telling the user which file is wrong, a docstring) does not: it reads nothing.
    """
    from iadbench.runs.layout import RUN_DIR_NAMES

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return sorted(
        f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{node.lineno} "
        f"spells {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and set(re.split(r"[/\\]", node.value.strip())) & set(RUN_DIR_NAMES)
    )


def test_only_the_run_layer_spells_run_dir_names() -> None:
    """Every reader and writer of a run dir goes through ``iadbench.runs`` (its layout, reader)."""
    outside = {name: path for name, path in CORE.items() if not name.startswith("iadbench.runs")}
    methods = module_files(REPO / "methods", "iadbench_methods")
    found = [hit for path in [*outside.values(), *methods.values()] for hit in
             spelled_run_dir_names(path)]  # fmt: skip
    assert found == []


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
    ("source", "caught"),
    [
        ('PATH = run_dir / "predictions.jsonl"\n', True),
        ('names = {"manifest.json", "x"}\n', True),
        ('p = f"{root}/summary.json"\n', True),
        ('"""Reads summary.json."""\nmessage = "no summary.json there"\n', False),
    ],
)
def test_a_spelled_run_dir_name_is_caught(tmp_path: Path, source: str, caught: bool) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert bool(spelled_run_dir_names(path)) is caught


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


def test_the_package_root_exports_exactly_its_lazy_names() -> None:
    """``iadbench.__all__`` and the lazily imported names agree, and each resolves."""
    import iadbench

    lazy = set(iadbench._HOMES)
    assert set(iadbench.__all__) == lazy | {"__version__"}
    for name in sorted(lazy):
        home = importlib.import_module(iadbench._HOMES[name])
        assert getattr(iadbench, name) is getattr(home, name)


_IMPORT_EACH_FIRST = """
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "iadbench" or m.startswith("iadbench.")]:
        del sys.modules[loaded]  # third-party modules stay: only the core's order matters
    try:
        importlib.import_module(name)
    except Exception as error:  # reported by module
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps(failed))
"""


def test_every_cli_module_imports_first_in_a_fresh_interpreter() -> None:
    """Commands load lazily (``cli/app.py``): a command module importing another made a cycle.

    ``iadbench.cli.data`` imported first registered its commands, which loaded
    ``data_check``, which imported names ``data`` had not defined yet (found 2026-12-08).
    """
    import json
    import subprocess
    import sys

    names = sorted(name for name in CORE if name.startswith("iadbench.cli.") and
                   name != "iadbench.cli.__main__")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH_FIRST, json.dumps(names)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}
