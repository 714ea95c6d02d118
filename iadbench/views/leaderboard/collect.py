"""Find stored runs under a directory, keep one per configuration, and label their rows.

A stored run is a directory holding ``summary.json`` and ``manifest.json`` (written by the run
store), read by :func:`iadbench.runs.reader.open_run`. Only runs whose manifest says
``"complete"`` are kept: a half-finished run would put numbers of a subset of the test images
beside full ones. Everything that is not kept is listed in :attr:`CollectedRuns.skipped` with the
reason, so the leaderboard can say what it left out.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iadbench.contract.errors import IADBenchError
from iadbench.runs.layout import MANIFEST, SUMMARY, holds_summary
from iadbench.runs.reader import StoredRun, UnusableRun, open_run
from iadbench.runs.schema import COMPLETE

_HASH_PREFIX = 8
_MAX_PATHS = 100  # ways to one run listed as skipped, at most


@dataclass(frozen=True)
class SkippedRun:
    """A run directory left out of the leaderboard.

    Attributes:
        path: The run directory.
        reason: Why it was left out (incomplete, unreadable, duplicate, ...).
    """

    path: Path
    reason: str


@dataclass(frozen=True)
class CollectedRuns:
    """The complete runs found under a directory, and what was left out.

    Attributes:
        root: The directory that was searched.
        runs: Kept runs, sorted by path relative to ``root``.
        skipped: Left-out run directories with reasons, sorted by path.
    """

    root: Path
    runs: list[StoredRun] = field(default_factory=list)
    skipped: list[SkippedRun] = field(default_factory=list)

    def relative(self, path: Path) -> str:
        """``path`` relative to :attr:`root` with forward slashes (for stable output)."""
        return _relative(self.root, path)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def collect_runs(directory: Path) -> CollectedRuns:
    """Load every complete stored run below ``directory``.

    Args:
        directory: Searched recursively for directories holding ``summary.json``. Symbolic links
            are followed wherever they point, as for datasets (the project's one rule,
            :mod:`iadbench.data.traversal`): a linked run dir is read. Each real folder is
            walked once (a link loop ends), and a run reached again through a link counts once;
            the other paths are listed as skipped ("same run as ...").

    Returns:
        Kept runs (one per configuration hash, labelled so rows stay distinguishable) and the
        skipped ones with reasons.

    Raises:
        IADBenchError: ``directory`` does not exist, is not a directory, or holds no complete
            run; or a complete run's summary does not match its seal (edited by hand, its
            predictions changed, or written before summaries were sealed).
    """
    directory = Path(directory)
    if not directory.exists():
        raise IADBenchError(f"Results directory {directory} does not exist.")
    if not directory.is_dir():
        raise IADBenchError(f"{directory} is not a directory; pass the folder holding the runs.")
    loaded: list[StoredRun] = []
    run_dirs, skipped = _run_directories(directory)
    unsealed: list[str] = []
    for run_dir in run_dirs:
        run_or_reason = _load_run(run_dir)
        if isinstance(run_or_reason, str):
            skipped.append(SkippedRun(run_dir, run_or_reason))
        elif problem := run_or_reason.seal_problem():
            unsealed.append(f"{_relative(directory, run_dir)}: {problem}")
        else:
            loaded.append(run_or_reason)
    if unsealed:
        raise IADBenchError(
            f"{len(unsealed)} run(s) under {directory} do not match their evidence, and a "
            "leaderboard is built from untouched results only: " + "; ".join(unsealed) + ". "
            "Run the same `iadbench run` command again for each (an unsealed summary is "
            "recomputed from its predictions; an edited one is refused until restored or re-run "
            "with --overwrite), or move those dirs out of the results folder."
        )
    kept, duplicates = _drop_duplicate_hashes(loaded, directory)
    skipped.extend(duplicates)
    if not kept:
        detail = f" ({len(skipped)} skipped, e.g. {skipped[0].reason})" if skipped else ""
        raise IADBenchError(
            f"No complete run found under {directory}{detail}. A run directory holds {SUMMARY} "
            f"and a {MANIFEST} with status {COMPLETE!r}; run `iadbench run` or `iadbench matrix` "
            "first."
        )
    by_path = sorted(_label_runs(kept), key=lambda run: _relative(directory, run.path))
    skipped.sort(key=lambda item: _relative(directory, item.path))
    return CollectedRuns(directory, by_path, skipped)


def _run_directories(root: Path) -> tuple[list[Path], list[SkippedRun]]:
    """Run dirs below ``root`` (links followed), each real one once, and the paths left out.

    Of the paths reaching one run, the one without a link in it is kept (else the first in
    name order); the others are skipped as "same run as ...".
    """
    first: dict[tuple[int, int], Path] = {}  # real folder -> the first path that reached it
    aliases: list[tuple[Path, Path]] = []  # (later path, first path) of a folder reached again
    found: list[Path] = []
    pending = [root]
    while pending:  # depth first in name order, without recursion (deep trees)
        folder = pending.pop()
        try:
            info = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        key = (info.st_dev, info.st_ino)
        if key in first:  # a loop, or a second link to one folder: not walked again
            aliases.append((folder, first[key]))
            continue
        first[key] = folder
        folders = [Path(entry.path) for entry in entries if _is_folder(entry)]
        if holds_summary([entry.name for entry in entries if not _is_folder(entry)]):
            found.append(folder)
        pending.extend(reversed(folders))
    # A loop (a link to a folder above it) adds no other way to a run worth listing.
    aliases = [(later, earlier) for later, earlier in aliases if earlier not in later.parents]
    kept: list[Path] = []
    skipped: list[SkippedRun] = []
    for run_dir in found:
        paths = _paths_to(run_dir, aliases)
        winner = next((p for p in paths if not _through_link(root, p)), run_dir)
        kept.append(winner)
        where = _relative(root, winner)
        reason = f"same run as {where} (reached again through a link), counted once"
        skipped += [SkippedRun(path, reason) for path in paths if path != winner]
    return sorted(kept), skipped


def _paths_to(run_dir: Path, aliases: list[tuple[Path, Path]]) -> list[Path]:
    """Every path reaching ``run_dir`` through the aliases (links of links too), first found first.

    Bounded (:data:`_MAX_PATHS`): crafted links could otherwise multiply the paths.
    """
    paths = [run_dir]
    for path in paths:  # grows while it is read: a breadth-first closure
        for later, earlier in aliases:
            if path == earlier or earlier in path.parents:
                other = later / path.relative_to(earlier)
                if other not in paths and len(paths) < _MAX_PATHS:
                    paths.append(other)
    return paths


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is (or links to) a folder; an unreadable entry is not."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _through_link(root: Path, path: Path) -> bool:
    """Whether a folder between ``root`` and ``path`` (``path`` included) is a symbolic link."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


def _load_run(run_dir: Path) -> StoredRun | str:
    """The run with its first row label (method, ``--limit``, categories), or why it is skipped."""
    try:
        run = open_run(run_dir)
    except UnusableRun as unusable:
        return unusable.reason
    label = run.method
    if away := ", ".join(filter(None, (_protocol_settings(run), _tiny_settings(run)))):
        label += f" [{away}]"
    if run.limit is not None:
        label += f" (first {run.limit}/category)"
    if run.categories is not None:
        label += f" ({categories_shown(run.categories)})"
    return replace(run, label=label)


def categories_shown(categories: tuple[str, ...]) -> str:
    """A ``--categories`` run's row suffix: the categories up to three, else their number.

    Its pooled and class-mean figures cover these categories only: without the suffix the row
    read as a whole run's (it was told apart from one only by ``[test data=…]``).

    Example:
        >>> categories_shown(("bottle",)), categories_shown(("a", "b", "c", "d"))
        ('only bottle', 'only 4 categories')
    """
    if len(categories) <= 3:
        return "only " + ", ".join(categories)
    return f"only {len(categories)} categories"


#: The options a tiny row's label names when set away from the defaults: the checkpoint, which
#: decides whether the row is random weights. Image size and answer length of the demo's warm
#: start are recorded in the configuration; in the label they made a three-line name.
_TINY_LABEL_OPTIONS = ("model",)


def _tiny_settings(run: StoredRun) -> str:
    """``model=NAME`` when a tiny run loads another checkpoint than the default; "" if not.

    A ``(tiny)`` row reads as "random weights, pipeline only"; when a run changed that (the
    demo's warm start), its label says so. Only runs whose manifest records the defaults
    (``method.option_defaults``) are named; a local path is shown by its last part (the
    checkpoint's name).
    """
    method = run.manifest.get("method")
    defaults = method.get("option_defaults") if isinstance(method, dict) else None
    options = run.config.get("options")
    if not run.tiny or not isinstance(defaults, dict) or not isinstance(options, dict):
        return ""
    return ", ".join(
        f"{key}={_shown_setting(value)}"
        for key, value in options.items()
        if key in _TINY_LABEL_OPTIONS and key in defaults and defaults[key] != value
    )


#: Options that choose a protocol, named in every row's label when set away from the defaults:
#: ``shots`` (few-shot references instead of training, issue 21). A one-class model's few-shot
#: run (``zero-shot_to_mvtec``) is shown in the ``mvtec → mvtec`` table beside its same-dataset
#: run, a configuration of another identity: without it both rows read ``anomalib-padim``.
_PROTOCOL_LABEL_OPTIONS = ("shots",)


def _protocol_settings(run: StoredRun) -> str:
    """``shots=K`` when a run's few-shot references differ from its method's default; or "".

    Only runs whose manifest records the defaults (``method.option_defaults``) are named.
    """
    method = run.manifest.get("method")
    defaults = method.get("option_defaults") if isinstance(method, dict) else None
    options = run.config.get("options")
    if not isinstance(defaults, dict) or not isinstance(options, dict):
        return ""
    return ", ".join(
        f"{key}={_shown(value)}"
        for key, value in options.items()
        if key in _PROTOCOL_LABEL_OPTIONS and key in defaults and defaults[key] != value
    )


def _shown_setting(value: Any) -> str:
    if isinstance(value, str) and os.path.isabs(value):
        return Path(value).name or value
    return _shown(value)


def _drop_duplicate_hashes(
    runs: list[StoredRun], root: Path
) -> tuple[list[StoredRun], list[SkippedRun]]:
    """One run per config hash: the most recently updated, then the first by path."""
    by_hash: dict[str, list[StoredRun]] = {}
    for run in runs:
        by_hash.setdefault(run.config_hash, []).append(run)
    kept: list[StoredRun] = []
    dropped: list[SkippedRun] = []
    for group in by_hash.values():
        group.sort(key=lambda run: run.path.as_posix())
        # Stable sort: among equal timestamps the first path wins.
        group.sort(key=lambda run: str(run.manifest.get("updated", "")), reverse=True)
        winner = group[0]
        kept.append(winner)
        where = _relative(root, winner.path)
        dropped.extend(
            SkippedRun(run.path, f"same configuration (config_hash) as {where}, kept that one")
            for run in group[1:]
        )
    return kept, dropped


def _label_runs(runs: list[StoredRun]) -> list[StoredRun]:
    """Name what differs in the label of runs whose identity is shared by another configuration.

    ``winclip [image_size=240]``: the options (and seed, ``--limit``, method version, data
    fingerprints) whose recorded values differ within the group, with this run's values. Runs
    without a recorded configuration, or that still share a label, get ``[hash]`` instead.
    """
    groups: dict[tuple[Hashable, ...], list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(run.identity, []).append(run)
    labels: dict[int, str] = {}
    for group in groups.values():
        if len(group) == 1:
            continue
        for run in group:
            variant = _variant(run, group)
            labels[id(run)] = f"{run.label} [{variant}]" if variant else ""
        taken = Counter(labels[id(run)] for run in group)
        for run in group:
            if not labels[id(run)] or taken[labels[id(run)]] > 1:
                labels[id(run)] = f"{run.label} [{_unique_hash(run, group)}]"
    return [replace(run, label=labels[id(run)]) if id(run) in labels else run for run in runs]


def _variant(run: StoredRun, group: list[StoredRun]) -> str:
    """``key=value`` of the recorded settings that differ within ``group``; "" when unknown."""
    settings = [_settings(other) for other in group]
    if not all(settings):
        return ""
    mine = _settings(run)
    keys = dict.fromkeys(key for recorded in settings for key in recorded)
    differing = [
        key for key in keys if len({json.dumps(s.get(key), sort_keys=True) for s in settings}) > 1
    ]
    return ", ".join(f"{key}={_shown(mine.get(key))}" for key in differing)


def _settings(run: StoredRun) -> dict[str, Any]:
    """A run's recorded configuration as flat, readable keys (options by name, data by role)."""
    config = run.manifest.get("config")
    if not isinstance(config, dict):
        return {}
    flat: dict[str, Any] = dict(config.get("options") or {})
    for key in ("seed", "limit", "method_version", "calibration_ratio"):
        if key in config:
            flat["version" if key == "method_version" else key] = config[key]
    for role in ("train", "test"):
        side = config.get(role)
        flat[f"{role} data"] = side.get("fingerprint") if isinstance(side, dict) else None
    flat["calibration data"] = config.get("calibration_fingerprint")
    return flat


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:  # a fingerprint: its prefix tells it apart
        return value[:_HASH_PREFIX]
    return json.dumps(value) if not isinstance(value, str) else value


def _unique_hash(run: StoredRun, group: list[StoredRun]) -> str:
    """The shortest prefix (8, 12, ... characters) of the config hash no other run shares."""
    others = [o.config_hash for o in group if o is not run]
    width = _HASH_PREFIX
    while width < len(run.config_hash) and any(
        o[:width] == run.config_hash[:width] for o in others
    ):
        width += 4
    return run.config_hash[:width]
