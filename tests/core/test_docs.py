"""The documentation names only code that exists, and the README stays short.

README.md is what a newcomer reads first; the reference lives in ``docs/*.md``. Both name modules
(``iadbench.runs.thresholds``) and files (``iadbench/runs/store.py``); when the code moves, a
stale name sends a reader to nothing, so every such name is checked here against the source tree.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
#: The most lines README.md may have (issue 17: a README a newcomer reads in minutes).
README_MAX_LINES = 250
#: Pages that name what no longer exists on purpose (the "before" column of the migration notes):
#: their paths and dotted names are not checked (their links are).
HISTORICAL = frozenset({"migration.md"})
#: Dotted names that look like modules but are not: the entry-point groups.
NOT_MODULES = frozenset({"iadbench.methods", "iadbench.demos"})

#: ``iadbench/…`` paths (files or folders) and ``methods/…``, ``tests/…`` etc. paths; a
#: placeholder (``<name>``), a wildcard or a brace group ends the path, never a false alarm.
PATH = re.compile(
    r"(?<![\w./-])((?:iadbench|methods|tests|benchmarks|examples|splits|results)/[\w./-]*)"
)
#: ``iadbench.x.y`` and ``iadbench_methods.x`` dotted names (a module, or a module then attributes).
DOTTED = re.compile(r"(?<![\w./-])(iadbench(?:_methods)?(?:\.[A-Za-z_]\w*)+)")


def documents() -> list[Path]:
    """README.md and every page under docs/."""
    return [README, *DOCS]


def current_documents() -> list[Path]:
    """The documents whose named paths and modules must exist (all but :data:`HISTORICAL`)."""
    return [page for page in documents() if page.name not in HISTORICAL]


def named_paths(text: str) -> set[str]:
    """Repository paths named in ``text``, trailing punctuation dropped."""
    return {match.rstrip(".,:;/") or match for match in PATH.findall(text)}


def named_dotted(text: str) -> set[str]:
    """``iadbench.…`` dotted names in ``text``, minus the ones that are not modules."""
    return {name for name in DOTTED.findall(text) if name not in NOT_MODULES}


def missing_path(path: str) -> bool:
    """Whether ``path`` (relative to the repository root) names nothing on disk."""
    return not (REPO / path).exists()


def missing_dotted(name: str) -> bool:
    """Whether ``name`` is neither a module nor a module followed by attributes.

    The longest prefix that is a module is imported, and every remaining part must be an attribute
    of what precedes it (``iadbench.runs.thresholds.final_label``: a module, then a function).
    """
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:  # a parent is not a package
            found = False
        if not found:
            continue
        target: object = importlib.import_module(module_name)
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return True
            target = getattr(target, attribute)
        return False
    return True


def test_the_readme_fits_in_a_few_minutes_of_reading() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_the_reference_pages_exist() -> None:
    names = {page.name for page in DOCS}
    expected = {"plugins.md", "data.md", "metrics.md", "results.md", "leaderboard.md", "cli.md",
                "architecture.md", "development.md"}  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize("document", current_documents(), ids=lambda path: path.name)
def test_every_named_path_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = sorted(path for path in named_paths(text) if missing_path(path))
    assert missing == [], f"{document.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", current_documents(), ids=lambda path: path.name)
def test_every_named_module_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = sorted(name for name in named_dotted(text) if missing_dotted(name))
    assert missing == [], f"{document.name} names modules that do not exist: {missing}"


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a markdown text's headings (lower case, punctuation dropped)."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_resolves() -> None:
    for document in documents():
        text = document.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
            if "://" in target:
                continue
            path = (document.parent / target).resolve() if target else document
            assert path.exists(), f"{document.name} links to {target}, which does not exist"
            if anchor and path.suffix == ".md":
                anchors = heading_anchors(path.read_text(encoding="utf-8"))
                assert anchor in anchors, f"{document.name}: no heading #{anchor} in {target}"


def test_the_checks_catch_a_stale_name() -> None:
    text = "`iadbench/records.py` and `iadbench.records.Sample`; `iadbench/contract/records.py`."
    assert [path for path in named_paths(text) if missing_path(path)] == ["iadbench/records.py"]
    assert sorted(name for name in named_dotted(text) if missing_dotted(name)) == [
        "iadbench.records.Sample"
    ]
    assert missing_dotted("iadbench.contract.records.NoSuchRecord")
    assert not missing_dotted("iadbench.runs.thresholds.final_label")
    assert named_dotted("see `iadbench_methods.qwen2vl.answer`") == {
        "iadbench_methods.qwen2vl.answer"
    }
    assert missing_dotted("iadbench_methods.qwen2vl.answer")
