"""The records every part of iadbench exchanges: images, answers, and how answers are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:  # numpy is imported only where a map is given: the contract stays light
    import numpy as np

DEFECT: Final = "defect"
NORMAL: Final = "normal"
INVALID: Final = "invalid"

Label = Literal["defect", "normal"]
PredictedLabel = Literal["defect", "normal", "invalid"]
# "calibration": a split file's rows held out of training to choose a threshold on (issue 20).
Subset = Literal["train", "test", "calibration"]

LABELS: tuple[str, str] = (DEFECT, NORMAL)
#: The trivial baselines and the one label each always answers, in the order tables show them.
#: Every run is compared with both (their answers follow from the labels alone).
TRIVIAL_BASELINES: Final[dict[str, str]] = {"always-defect": DEFECT, "always-normal": NORMAL}


@dataclass(frozen=True, slots=True)
class Sample:
    """One image of a dataset; pixels are never decoded here (see :mod:`iadbench.contract.images`).

    Attributes:
        id: Path of the image relative to the dataset root, with forward slashes. Unique within a
            dataset (VisA reuses basenames across Normal/Anomaly, so the basename is not enough).
        dataset: Dataset name, e.g. ``"mvtec"`` or ``"visa"``.
        category: Category folder name, e.g. ``"metal_nut"``.
        subset: ``"train"`` or ``"test"``, as the official split defines it (``"calibration"``:
            a split file's rows held out to choose a threshold on).
        label: Ground truth, ``"defect"`` or ``"normal"``.
        image_path: Absolute path of the image file.
        mask_path: Absolute path of the defect mask, or ``None`` (normal images, missing masks).
        defect_type: Official defect folder name (``"good"`` for normal images) when known.
        group: The physical sample this image is one view of (Real-IAD photographs each part
            from 5 cameras: its 5 images share one group), or ``None`` when every image is its
            own sample (MVTec-AD, VisA, folder datasets). Statistics then resample groups, not
            images, and a group is defective when any of its images is.
    """

    id: str
    dataset: str
    category: str
    subset: Subset
    label: Label
    image_path: str
    mask_path: str | None = None
    defect_type: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        # A file or folder name that is not valid UTF-8 arrives with surrogate escapes, which no
        # JSON record can hold: written as \xNN escapes instead (the path keeps the real bytes),
        # and a literal backslash as \\ so that the escaped id of one file never equals the
        # plain id of another (issue 18).
        for name in ("id", "category", "defect_type", "group"):
            value = getattr(self, name)
            if value is not None and (not value.isascii() or "\\" in value):
                object.__setattr__(self, name, printable_name(value))


def printable_name(text: str) -> str:
    r"""``text`` with undecodable bytes shown as ``\xNN`` and backslashes as ``\\``; else unchanged.

    Injective: two different names never give one result. A name with neither an undecodable
    byte (a surrogate escape) nor a backslash is returned as it is; any other is escaped, so its
    result holds a backslash, which no unescaped result does. That is why a literal backslash
    escapes itself: the file ``caf\xe9.png`` (a backslash, an x, ...) and the file whose name
    holds the byte 0xE9 are two samples with two ids.

    Example:
        >>> printable_name("good/ok.png"), printable_name("good/caf\udce9.png")
        ('good/ok.png', 'good/caf\\xe9.png')
        >>> printable_name("good/caf\\xe9.png")
        'good/caf\\\\xe9.png'
    """
    if "\\" not in text and not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    escaped = text.replace("\\", "\\\\")
    return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Prediction:
    """A method's answer for one sample.

    Attributes:
        label: ``"defect"``, ``"normal"`` or ``"invalid"`` (an answer that could not be parsed, or
            an image that could not be processed; see ``error``). None for a score method's
            answer: the run's threshold policy decides (``iadbench.runs.thresholds.final_label``).
        score: Anomaly score in [0, 1] when the method gives one (higher = more anomalous).
        text: The model's full output, reasoning included, for generative methods.
        error: Why this image could not be processed; ``None`` when it was.
        anomaly_map: Per-pixel anomaly values (higher = more anomalous), a 2-D array of finite
            floats at the resolution the adapter declares (``MethodAdapter.map_shape``), on the
            method's own scale; ``None`` for methods without maps. Anything ``numpy.asarray``
            reads is accepted (a CPU tensor too); it is kept as a read-only ``float32`` copy.
            It takes no part in equality or hashing (an array has neither): two predictions
            that differ only in their maps compare equal, as before maps existed.
    """

    label: PredictedLabel | None = None
    score: float | None = None
    text: str | None = None
    error: str | None = None
    anomaly_map: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.label is None and self.score is None:
            raise ValueError("a prediction needs a label or a score")
        if self.label is not None and self.label not in (DEFECT, NORMAL, INVALID):
            raise ValueError(
                f"prediction label must be defect, normal or invalid, got {self.label!r}"
            )
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise ValueError(f"prediction score must lie in [0, 1], got {self.score!r}")
        if self.anomaly_map is not None:
            object.__setattr__(self, "anomaly_map", checked_map(self.anomaly_map))

    @classmethod
    def failed(cls, error: str) -> Prediction:
        """A prediction for an image the method could not process; scored as wrong."""
        return cls(label=INVALID, error=error)


def checked_map(value: Any) -> np.ndarray:
    """``value`` as a read-only ``float32`` copy, checked as :class:`Prediction` requires.

    Raises:
        ValueError: Not 2-D, empty, or holding a NaN or an infinity.
    """
    import numpy as np

    try:
        array = np.array(value, dtype=np.float32, copy=True)
    except (TypeError, ValueError, RuntimeError) as exc:  # a CUDA tensor, a ragged list
        raise ValueError(
            f"an anomaly map must be a 2-D float array (numpy; a tensor: .float().cpu().numpy()), "
            f"got {type(value).__name__} ({exc})"
        ) from None
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"an anomaly map must be a non-empty 2-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("an anomaly map must hold finite values (it holds NaN or infinity)")
    array.flags.writeable = False  # frozen like the rest of the record
    return array


@dataclass(frozen=True)
class AnswerRules:
    """How a text method's answers are read: the strict rule (the headline) and a lenient one.

    A method that answers in text declares them as its adapter's ``answer_rules``; the summary
    then reports the lenient rule's figures beside the strict ones, so a reader sees how much of
    a gap is parsing. The strict rule is what the adapter's ``predict`` already applied.

    Attributes:
        strict: Name of the strict rule, as summaries and tables print it.
        lenient: Name of the lenient rule.
        parse_lenient: Generated text → ``"defect"``, ``"normal"`` or ``"invalid"``.
    """

    strict: str
    lenient: str
    parse_lenient: Callable[[str], str]
