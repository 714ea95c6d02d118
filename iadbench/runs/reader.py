"""Reading a stored run: the one reader of ``manifest.json``, ``summary.json`` and predictions.

:func:`open_run` gives a :class:`StoredRun` (typed access to its records) or raises
:class:`UnusableRun` saying why the dir is not a complete run; :meth:`StoredRun.outcomes` gives
one :class:`Outcome` per test image with its final label, decided as the summary decided it.
The leaderboard, the report, ``compare``, ``predict --from-run`` and the statistics of older runs
all read through here, so they agree on what a run holds.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import DEFECT, INVALID, NORMAL
from iadbench.runs.layout import MANIFEST, SUMMARY, RunLayout
from iadbench.runs.runspec import config_digest
from iadbench.runs.schema import COMPLETE, Provenance, summary_problem
from iadbench.runs.seal import SealProblem, seal_problem
from iadbench.runs.thresholds import ThresholdError, final_label

#: :attr:`Outcome.outcome` of a valid answer that is right, and of one that is wrong.
CORRECT = "correct"
WRONG = "wrong"


class UnusableRun(IADBenchError):
    """A directory that is not a complete, readable run; :attr:`reason` says why, briefly."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """One test image of a run: truth, final answer, and what the method said.

    Attributes:
        id: Sample id (path relative to the test dataset's root).
        category: Category folder name.
        label: Ground truth, ``defect`` or ``normal``.
        pred: Final answer, ``defect``, ``normal`` or ``invalid`` (an oracle run's undecided
            records decided with the summary's threshold, as the summary counted them).
        score: Anomaly score, when the method gives one.
        text: The model's full output, when it gives text.
        error: Why the image could not be processed, if it could not.
        defect_type: The dataset's defect folder (``good`` for normal images), when known.
        group: The physical sample the image is one view of (Real-IAD), when the dataset
            groups views; the bootstrap then resamples groups, not images.
    """

    id: str
    category: str
    label: str
    pred: str
    score: float | None = None
    text: str | None = None
    error: str | None = None
    defect_type: str | None = None
    group: str | None = None

    @property
    def correct(self) -> bool:
        """Whether the answer is right (an invalid answer never is)."""
        return self.pred == self.label

    @property
    def outcome(self) -> str:
        """``correct``, ``wrong`` (a valid but wrong answer) or ``invalid``."""
        if self.pred == INVALID:
            return INVALID
        return CORRECT if self.correct else WRONG


def decided_label(record: Mapping[str, Any], threshold_value: float | None) -> str:
    """A stored prediction's final answer, as the summary counts it.

    Its ``pred``; an oracle run's records are stored undecided (``pred`` null) and are decided
    with the run's ``threshold_value``, chosen once every score was in
    (:func:`~iadbench.runs.thresholds.final_label`).

    Raises:
        ThresholdError: An undecided record without a score or threshold to decide it.
    """
    pred = record.get("pred")
    if pred is not None:
        return str(pred)
    return final_label(None, record.get("score"), record.get("error"), threshold_value)


def read_json_object(path: Path) -> dict[str, Any]:
    """A run record (manifest, summary) parsed strictly.

    Raises:
        IADBenchError: The file is not valid JSON.
    """
    try:
        return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IADBenchError(
            f"{path} is not valid JSON ({exc}); re-run with --overwrite to replace the whole run "
            "(deleting only this file would leave predictions nobody can attribute)."
        ) from None


def iter_lines(
    path: Path, *, tolerant: bool = False, unique: bool = True
) -> Iterator[dict[str, Any]]:
    """The records of a prediction log.

    Args:
        path: A ``predictions.jsonl`` (or calibration, or shard) file; absent: no records.
        tolerant: Skip lines that are not JSON objects (a report must not die on a torn line)
            instead of raising.
        unique: Only the first record of each id (what the run and its summary count); without
            it every record line as written.

    Raises:
        IADBenchError: Not ``tolerant``, and a line is not valid JSON (the file was edited or
            corrupted; repairing the tail cannot fix it).
    """
    if not path.exists():
        return
    seen: set[Any] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if tolerant:
                    continue
                raise IADBenchError(
                    f"{path} line {number} is not valid JSON ({exc.msg}); "
                    "fix or delete that line, or re-run with --overwrite."
                ) from None
            if tolerant and not isinstance(record, dict):
                continue
            if not unique:
                yield record
            elif record.get("id") not in seen:
                seen.add(record.get("id"))
                yield record


def read_outcomes(
    path: Path,
    threshold_value: float | None,
    *,
    tolerant: bool = False,
    defect_types: Mapping[str, str | None] | None = None,
) -> list[Outcome]:
    """One :class:`Outcome` per image of a prediction log (see :func:`decided_label`).

    Args:
        path: The log.
        threshold_value: ``summary["threshold_value"]``: decides records stored undecided.
        tolerant: Skip what is not a record of a labelled image, answer ``invalid`` where no
            threshold can decide, and give every line as written, a repeated id too (the
            report shows what the file holds); otherwise raise, and give an id's first record.
        defect_types: Defect folder per sample id (the summary's per-defect-type figures).

    Raises:
        IADBenchError: Not ``tolerant``, and a line is not JSON or lacks a record's keys.
        ThresholdError: Not ``tolerant``, and an undecided record cannot be decided.
    """
    found = []
    for raw in iter_lines(path, tolerant=tolerant, unique=not tolerant):
        if tolerant and raw.get("label") not in (DEFECT, NORMAL):
            continue
        try:
            pred = decided_label(raw, threshold_value)
        except ThresholdError:
            if not tolerant:
                raise
            pred = INVALID
        if not tolerant and not all(key in raw for key in ("id", "category", "label")):
            raise IADBenchError(f"{path}: a line lacks id, category or label: {raw!r:.200}")
        sample_id = str(raw.get("id", ""))
        score, text, error = raw.get("score"), raw.get("text"), raw.get("error")
        group = raw.get("group")  # written only where the dataset groups views (Real-IAD)
        found.append(
            Outcome(
                sample_id,
                str(raw.get("category", "")),
                str(raw["label"]),
                pred,
                float(score) if isinstance(score, int | float) else None,
                text if isinstance(text, str) else None,
                None if error is None else str(error),
                None if defect_types is None else defect_types.get(sample_id),
                group if isinstance(group, str) else None,
            )
        )
    return found


@dataclass(frozen=True)
class StoredRun:
    """One complete stored run, read by :func:`open_run`.

    Attributes:
        path: The run directory.
        summary: The parsed ``summary.json`` (structurally checked).
        manifest: The parsed ``manifest.json``.
        label: Row label the leaderboard gives the run (raw, not escaped); see
            :mod:`iadbench.views.leaderboard.collect`. Empty until it does.
    """

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    label: str = ""

    @property
    def layout(self) -> RunLayout:
        """The paths of the run dir."""
        return RunLayout(self.path)

    @property
    def method(self) -> str:
        """Registered method name."""
        return str(self.summary["method"])

    @property
    def config_hash(self) -> str:
        """Content hash of the run's configuration."""
        return str(self.summary["config_hash"])

    @property
    def config(self) -> dict[str, Any]:
        """The manifest's resolved configuration (empty when not recorded)."""
        config = self.manifest.get("config")
        return config if isinstance(config, dict) else {}

    @property
    def train_dataset(self) -> str | None:
        """Dataset the method trained on; None for a zero-shot run (``summary["train"]`` null).

        Runs stored before zero-shot runs were keyed by their test set alone name the dataset
        they were paired with.
        """
        train = self.summary["train"]
        return None if train is None else str(train["dataset"])

    @property
    def train_split(self) -> str | None:
        """Split of the training dataset, as recorded; None for a zero-shot run."""
        train = self.summary["train"]
        return None if train is None else str(train["split"])

    @property
    def trains(self) -> bool:
        """Whether the method has a training stage (``capabilities.trains``; missing: no)."""
        capabilities = self.summary.get("capabilities")
        return isinstance(capabilities, dict) and capabilities.get("trains") is True

    @property
    def shown_train_split(self) -> str | None:
        """The training split where it means something: ``None`` for a method that never trains."""
        return self.train_split if self.trains else None

    @property
    def test_dataset(self) -> str:
        """Dataset the method was scored on."""
        return str(self.summary["test"]["dataset"])

    @property
    def test_split(self) -> str:
        """Split of the test dataset."""
        return str(self.summary["test"]["split"])

    @property
    def test_fingerprint(self) -> str | None:
        """The manifest's fingerprint of the test images (None when not recorded)."""
        test = self.config.get("test")
        value = test.get("fingerprint") if isinstance(test, dict) else None
        return value if isinstance(value, str) else None

    @property
    def threshold(self) -> str | None:
        """Threshold policy (``fixed:0.5``, ``calibrated``, ``oracle``) or ``None``."""
        value = self.summary.get("threshold")
        return None if value is None else str(value)

    @property
    def threshold_value(self) -> float | None:
        """The number the policy chose (``summary["threshold_value"]``), or None."""
        value = self.summary.get("threshold_value")
        return float(value) if isinstance(value, int | float) else None

    @property
    def tiny(self) -> bool:
        """Whether the run used random-weight tiny models: ``summary["tiny"]`` alone decides.

        The runner records ``false`` for a method that builds no model even under ``--tiny``.
        """
        return self.summary.get("tiny") is True

    @property
    def limit(self) -> int | None:
        """``--limit N`` of a partial run (the first N test images per category), else None."""
        value = self.summary.get("limit")
        return value if isinstance(value, int) else None

    @property
    def categories(self) -> tuple[str, ...] | None:
        """``--categories``: the test categories a restricted run scored, else None (all)."""
        value = self.config.get("categories")
        return tuple(str(c) for c in value) if isinstance(value, list) else None

    @property
    def trained_artifacts(self) -> Path | None:
        """The training dir the run loaded (``manifest["trained_artifacts"]``), or None."""
        value = self.manifest.get("trained_artifacts")
        return Path(value) if value else None

    @property
    def provenance(self) -> Provenance | None:
        """Which attempts wrote the predictions (``summary["provenance"]``), or None (older)."""
        value = self.summary.get("provenance")
        return cast(Provenance, value) if isinstance(value, dict) else None

    @property
    def identity(self) -> tuple[Hashable, ...]:
        """What a reader takes a row to mean: method, data, threshold, ``--limit``, categories.

        Train and test dataset and split; a partial run (``--limit``, ``--categories``) is
        another row. The training split counts only for methods that train, as only they show
        it.
        """
        return (self.method, self.train_dataset, self.shown_train_split, self.test_dataset,
                self.test_split, self.threshold, self.limit, self.categories)  # fmt: skip

    def seal_problem(self) -> SealProblem | None:
        """Why the summary cannot be trusted as computed from the predictions, or None."""
        return seal_problem(self.summary, self.layout.predictions)

    def config_edited(self) -> bool:
        """Whether the manifest's configuration no longer gives its ``config_hash``.

        The seal covers the summary and predictions, not ``manifest.json``: an option edited
        there by hand (a radius 4 → 1) would change what ``predict --from-run`` builds.
        """
        config, recorded = self.manifest.get("config"), self.manifest.get("config_hash")
        return isinstance(config, dict) and bool(recorded) and config_digest(config) != recorded

    def outcomes(self, *, tolerant: bool = False) -> list[Outcome]:
        """One :class:`Outcome` per test image (see :func:`read_outcomes` for ``tolerant``)."""
        return read_outcomes(self.layout.predictions, self.threshold_value, tolerant=tolerant)


def open_run(path: Path) -> StoredRun:
    """The complete run stored in ``path``.

    Checks, in this order: a readable ``manifest.json`` object with status ``complete``, a
    readable ``summary.json`` object that is structurally usable
    (:func:`~iadbench.runs.schema.summary_problem`), and both naming the same config hash. The
    seal is not checked here: callers differ in what they do about it
    (:meth:`StoredRun.seal_problem`).

    Raises:
        UnusableRun: Why ``path`` is not a complete run, as :attr:`UnusableRun.reason`.
    """
    path = Path(path)
    if not path.is_dir():
        raise UnusableRun(path, "not a directory")
    layout = RunLayout(path)
    manifest = _json_object(layout.manifest)
    if isinstance(manifest, str):
        raise UnusableRun(path, manifest)
    if (status := manifest.get("status")) != COMPLETE:
        raise UnusableRun(path, f"run not complete (status {status!r})")
    summary = _json_object(layout.summary)
    if isinstance(summary, str):
        raise UnusableRun(path, summary)
    if problem := summary_problem(summary):
        raise UnusableRun(path, f"{SUMMARY} {problem}")
    manifest_hash = manifest.get("config_hash")
    if manifest_hash is not None and manifest_hash != summary["config_hash"]:
        raise UnusableRun(path, f"{MANIFEST} and {SUMMARY} disagree on config_hash")
    return StoredRun(path, summary, manifest)


def _json_object(path: Path) -> dict[str, Any] | str:
    """The parsed object, or a reason string when it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {path.name}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"unreadable {path.name} ({type(exc).__name__})"
    if not isinstance(data, dict):
        return f"{path.name} is not a JSON object"
    return data


__all__ = [
    "CORRECT", "WRONG", "Outcome", "StoredRun", "UnusableRun", "decided_label",
    "iter_lines", "open_run", "read_json_object", "read_outcomes",
]  # fmt: skip
