"""Defaults that depend on the machine: where the cache lives, how many decoding workers."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """Where trained artefacts and demo data live: ``$IADBENCH_CACHE_DIR`` or the XDG cache."""
    if env := os.environ.get("IADBENCH_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "iadbench"


def default_workers(device: str = "cpu") -> int:
    """DataLoader workers when not given: decoding overlaps the model, leaving it a core.

    A GPU outruns decoding, so it gets more workers than the CPU (where they share the cores
    with the model).
    """
    return max(0, min(12 if device.startswith("cuda") else 4, (os.cpu_count() or 1) - 1))
