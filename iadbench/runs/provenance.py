"""Versions and source revision recorded in every manifest, so a result can be traced."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Read from package metadata, never imported: recording torch's version must not load torch.
TRACKED_PACKAGES: tuple[str, ...] = (
    "iadbench", "numpy", "scikit-learn", "pillow", "torch", "torchvision", "transformers", "trl",
    "peft", "accelerate", "deepspeed", "open-clip-torch", "anomalib", "flash-attn",
)  # fmt: skip


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change results (absent ones omitted)."""
    found = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


@cache
def git_revision() -> dict[str, str | bool] | None:
    """Commit and dirty flag of the iadbench source checkout, or None outside a git checkout."""
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}
