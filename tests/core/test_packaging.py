"""The wheel ships every package of the source tree (pyproject lists them by hand)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_every_package_of_the_tree_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    listed = set(setuptools["packages"])
    in_tree = set(find_packages(REPO, include=["iadbench", "iadbench.*"]))
    for name, folder in setuptools["package-dir"].items():
        in_tree |= {name} | {f"{name}.{sub}" for sub in find_packages(REPO / folder)}
    assert in_tree - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - in_tree == set(), "these listed packages do not exist"
