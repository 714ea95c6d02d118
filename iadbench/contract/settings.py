"""Defaults that depend on the machine: where the cache lives, how many decoding workers."""

from __future__ import annotations

import os
from pathlib import Path

from iadbench.contract.errors import ArgumentError


def default_cache_dir() -> Path:
    """Where trained artefacts and demo data live: ``$IADBENCH_CACHE_DIR`` or the XDG cache."""
    if env := os.environ.get("IADBENCH_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "iadbench"


#: Names the DataLoader workers when ``--workers`` is not given: for a machine whose cores
#: other work already holds (the test suite's pytest-xdist workers set 0, as they set
#: OMP_NUM_THREADS=1), where a decoding process only competes with them.
WORKERS_VARIABLE = "IADBENCH_WORKERS"


def default_workers(device: str = "cpu") -> int:
    """DataLoader workers when not given: decoding overlaps the model, leaving it a core.

    ``$IADBENCH_WORKERS`` first, when set. A GPU outruns decoding, so it gets more workers than
    the CPU (where they share the cores with the model).

    Raises:
        ArgumentError: ``$IADBENCH_WORKERS`` is not a whole number 0 or more.
    """
    if text := os.environ.get(WORKERS_VARIABLE, "").strip():
        if not (text.isascii() and text.isdigit()):
            raise ArgumentError(
                f"{WORKERS_VARIABLE} must be a whole number 0 or more, got {text!r}"
            )
        return int(text)
    return max(0, min(12 if device.startswith("cuda") else 4, (os.cpu_count() or 1) - 1))
