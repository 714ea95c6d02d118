"""Where a command may write a file the user named.

Never into a run dir or a dataset, never over an existing file without ``--force``, and known
writable before any work starts. Every ``--output`` of every command (``predict``, ``report``,
``leaderboard``, ``data split``) goes through :func:`check_output_file` first: ``report RUN
--output RUN/manifest.json`` used to replace a sealed record, and ``predict … --output
/proc/o.jsonl`` predicted every image before it found it could not write (issue 18).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from iadbench.contract.errors import IADBenchError
from iadbench.runs.layout import MANIFEST

_ENV_ROOT = re.compile(r"IADBENCH_[A-Z0-9_]+_ROOT")


class OutputPathError(IADBenchError):
    """An output path that would overwrite a record, a dataset or a file, or cannot be written."""


def enclosing_run_dir(path: Path) -> Path | None:
    """The run dir that holds ``path`` (``path`` itself or an ancestor with a manifest), or None."""
    for folder in (path, *path.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None


def check_output_file(
    path: Path | str,
    *,
    force: bool = False,
    flag: str = "--output",
    dataset_roots: Iterable[Path | str] = (),
) -> Path:
    """Refuse an output path that is unsafe or unwritable; return it absolute.

    Args:
        path: The file the command will write.
        force: The user allowed replacing an existing file (``--force``).
        flag: How the user named the path, for messages.
        dataset_roots: Dataset roots this command reads (nothing is written under them); the
            roots set in ``IADBENCH_<NAME>_ROOT`` variables are protected too.

    Returns:
        The absolute path (its parent may still have to be created by the caller).

    Raises:
        OutputPathError: ``path`` is a folder, lies inside a run dir or a dataset root, exists
            and ``force`` is False, or its folder cannot be written.
    """
    target = Path(os.path.abspath(Path(path).expanduser()))
    resolved = target.resolve()
    if target.is_dir():
        raise OutputPathError(f"{flag} {path} is a folder; name a file to write")
    run_dir = enclosing_run_dir(resolved.parent)
    if run_dir is not None:
        raise OutputPathError(
            f"{flag} {path} lies inside the run dir {run_dir}, whose files are sealed records; "
            "write outside it"
        )
    # Roots given only through IADBENCH_<NAME>_ROOT are datasets too (the attack re-run wrote
    # leaderboard and predict outputs into them).
    env_roots = [v for k, v in os.environ.items() if _ENV_ROOT.fullmatch(k) and v.strip()]
    for root in [*dataset_roots, *env_roots]:
        root_path = Path(root).expanduser().resolve()
        if resolved == root_path or root_path in resolved.parents:
            raise OutputPathError(
                f"{flag} {path} lies inside the dataset root {root}; iadbench never writes into "
                "a dataset: write outside it"
            )
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputPathError(f"{flag} {path} exists; add --force to replace it")
    _check_writable(target, flag=flag)
    return target


def _check_writable(target: Path, *, flag: str) -> None:
    """Create and remove a scratch file where ``target`` will be written (or its nearest folder)."""
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPathError(f"{flag} {target}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".iadbench-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputPathError(f"{flag} {target} cannot be written: {folder}: {reason}") from None
