"""Where ``leaderboard`` and ``report`` may write: the output guard plus a suffix per format.

Every ``--output`` of the views goes through :func:`check_view_output` before any work
(:func:`iadbench.runs.output_guard.check_output_file`: no file inside a run dir, no replaced file
without ``--force``, a writable place), and the name must end as the format it receives:
``report --output <dataset image>.png --force`` would otherwise replace a test image with HTML
(issue 18). Once the runs are collected, :func:`check_outside_datasets` refuses an output inside
a dataset root their manifests record, and :func:`write_output` replaces the file atomically, so
a full disk leaves the previous file, never half a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from iadbench.contract.files import write_text_atomic
from iadbench.runs.output_guard import OutputPathError, check_output_file
from iadbench.views.leaderboard.collect import CollectedRuns

#: The suffixes each written format accepts (compared lower-case), the first one suggested.
SUFFIXES: Final[Mapping[str, tuple[str, ...]]] = {
    "md": (".md", ".markdown"),
    "csv": (".csv",),
    "json": (".json",),
    "html": (".html", ".htm"),
}
_WRITTEN: Final[Mapping[str, str]] = {
    "md": "the markdown leaderboard",
    "csv": "the CSV leaderboard",
    "json": "the JSON leaderboard",
    "html": "the HTML report",
}


def check_view_output(path: Path, *, kind: str, force: bool, flag: str = "--output") -> Path:
    """Refuse an output of the wrong suffix, inside a run dir, existing without ``force``.

    Args:
        path: The file the command will write.
        kind: A key of :data:`SUFFIXES` (the format written).
        force: The user allowed replacing an existing file (``--force``).
        flag: How the user named the path, for messages.

    Returns:
        The absolute path.

    Raises:
        OutputPathError: See :func:`~iadbench.runs.output_guard.check_output_file`, or the
            suffix is not one of the format's.
    """
    allowed = SUFFIXES[kind]
    if path.suffix.lower() not in allowed and not path.is_dir():  # a folder: the guard's message
        raise OutputPathError(
            f"{flag} {path} would receive {_WRITTEN[kind]}, whose file name ends in "
            f"{' or '.join(allowed)}: name it {path.with_suffix(allowed[0]).name}"
        )
    return check_output_file(path, force=force, flag=flag)


def dataset_roots(runs: CollectedRuns) -> list[Path]:
    """The train and test dataset roots the collected runs' manifests record (absolute)."""
    roots: set[Path] = set()
    for run in runs.runs:
        config: Any = run.manifest.get("config")
        for role in ("train", "test"):
            side = config.get(role) if isinstance(config, Mapping) else None
            root = side.get("root") if isinstance(side, Mapping) else None
            if isinstance(root, str) and root:
                roots.add(Path(root))
    return sorted(roots)


def check_outside_datasets(path: Path, runs: CollectedRuns, *, flag: str = "--output") -> None:
    """Refuse ``path`` inside a dataset root of the collected runs.

    Called after :func:`check_view_output` (the runs must be read to know their roots), so the
    existence and writability checks are not repeated: ``force`` is passed as already decided.

    Raises:
        OutputPathError: ``path`` lies inside one of :func:`dataset_roots`.
    """
    check_output_file(path, force=True, flag=flag, dataset_roots=dataset_roots(runs))


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder, then replace it.

    A failure (full disk, a signal) removes the temporary file and leaves any previous file.
    The file gets the mode a plain write would give it (``mkstemp`` makes it owner-only).
    """
    write_text_atomic(path, text, newline="")
