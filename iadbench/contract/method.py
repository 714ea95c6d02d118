"""The interface every method adapter implements, built-in or plugin.

An adapter declares what it needs and gives (:class:`Capabilities`), its options as a dataclass,
and turns batches of :class:`~iadbench.contract.records.Sample` into
:class:`~iadbench.contract.records.Prediction`.
Adapter modules must import heavy libraries (torch, transformers) inside methods, not at module
top, so that ``iadbench list`` and ``iadbench --help`` stay fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

from iadbench.contract.demos import DemoSetup
from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import AnswerRules, Prediction, Sample


@dataclass(frozen=True)
class Capabilities:
    """What a method needs and what it returns; every flag is read by the core.

    Attributes:
        needs_pixels: Decodes images (False for the constant baselines: no image is opened; a
            method without it may not define a preprocessor — :func:`contract_problems`).
        needs_masks: Its training stage reads defect masks (planning refuses a training subset
            without any mask).
        trains: Has a training stage: :meth:`MethodAdapter.fit` on the training subset, and
            :meth:`MethodAdapter.load` to reuse it (the runner owns reuse; the training data is
            fingerprinted). An option declared ``option(..., replaces_training=True)`` may name
            trained weights instead (:func:`trains`).
        needs_both_labels: Its training needs normal and defect images (LR-IAD's reward compares
            each answer with the image's label: on one label it can only learn that answer);
            planning refuses a training subset holding one label.
        prefers_gpu: Practical only on a GPU at real size (a run on the CPU without ``--tiny``
            warns).
        gives_scores: Returns an anomaly score in [0, 1] per image (a threshold policy applies;
            AUROC/AP become available).
        gives_text: Returns generated text (the full answer, reasoning included); its
            ``answer_rules`` then give the summary's lenient figures.
        builds_models: Builds neural models, so ``--tiny`` changes it (False for the constant
            baselines: their runs record ``tiny: false`` whatever the flag says).
        gives_maps: Returns a per-pixel anomaly map with each processed image
            (``Prediction.anomaly_map``) at the size :meth:`MethodAdapter.map_shape` declares;
            the run stores them (``anomaly_maps/``) for pixel metrics.
        one_class: Learns what normal looks like, one model per category, from that category's
            normal images (PatchCore, PaDiM, ...): a training run trains and tests on one
            dataset (planning refuses another training dataset, naming the same-dataset and
            few-shot protocols) and ``fit`` receives only normal images of the tested categories.
    """

    needs_pixels: bool = True
    needs_masks: bool = False
    trains: bool = False
    needs_both_labels: bool = False
    prefers_gpu: bool = False
    gives_scores: bool = False
    gives_text: bool = False
    builds_models: bool = True
    gives_maps: bool = False
    one_class: bool = False


@dataclass(frozen=True)
class NoOptions:
    """Options of a method that has none."""


#: The adapter's options dataclass: ``class MyMethod(MethodAdapter[MyOptions])`` types
#: ``self.options`` for the checker.
OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class RunContext:
    """What an adapter knows about the run it serves, given once at construction.

    The one place an adapter reads its run from (``self.context``): ``fit``, ``load`` and
    ``predict`` take no other settings. Direct use (a notebook, a test) passes one too, e.g.
    ``MyMethod(options, context=RunContext(tiny=True, device="cpu"))``.

    Attributes:
        tiny: Build tiny random-weight models (``--tiny``).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:<n>"`` (one GPU per process of a sharded run):
            the runner resolves ``--device auto`` for methods that build models; ``"auto"``
            remains only for model-free methods and direct construction.
        seed: The run's seed.
        artifacts_dir: Where per-image artefacts go (the run dir's ``artifacts/``); None outside a
            run.
        workdir: The training dir of this training configuration (content-hashed), where
            :meth:`MethodAdapter.fit` saves and :meth:`MethodAdapter.load` reads; None when the
            run does not train (:func:`trains`).
        references: Few-shot reference images (:meth:`MethodAdapter.reference_shots`): per test
            category, the normal images of the test dataset's Train subset that are not test
            images, in id order; empty when the method asks for none.
    """

    tiny: bool = False
    device: str = "auto"
    seed: int = 0
    artifacts_dir: Path | None = None
    workdir: Path | None = None
    references: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)

    def training_dir(self) -> Path:
        """``workdir``, created if missing, for ``fit`` and ``load``.

        Raises:
            IADBenchError: No training dir was given (direct use: pass ``RunContext(workdir=...)``).
        """
        if self.workdir is None:
            raise IADBenchError(
                "fit() and load() need a training dir: construct the adapter with "
                "context=RunContext(workdir=...)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self.workdir


class MethodAdapter(ABC, Generic[OptionsT]):
    """Base class of method adapters.

    Subclasses set ``capabilities`` and, when they have options, ``Options`` (a frozen dataclass
    whose fields all have defaults; ``--set KEY=VALUE`` fills them). Bump ``version`` whenever a
    change alters predictions, so results cached under the old version are not reused.

    Example:
        >>> from iadbench import MethodAdapter, Capabilities, Prediction
        >>> class AlwaysNormal(MethodAdapter):
        ...     capabilities = Capabilities(needs_pixels=False)
        ...     def predict(self, batch):
        ...         return [Prediction(label="normal") for _ in batch]
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type] = NoOptions
    version: ClassVar[str] = "1"
    default_batch_size: ClassVar[int] = 32
    #: A text method's strict and lenient answer rules
    #: (:class:`~iadbench.contract.records.AnswerRules`); the summary reports the lenient figures
    #: beside the strict ones. None: no text answers.
    answer_rules: ClassVar[AnswerRules | None] = None

    def __init__(
        self, options: OptionsT | None = None, *, context: RunContext | None = None
    ) -> None:
        """Options (default: the ``Options`` defaults) and the run's context (default: none)."""
        self.options: OptionsT = options if options is not None else cast(OptionsT, self.Options())
        self.context = context if context is not None else RunContext()
        self.setup()

    def setup(self) -> None:
        """Prepare the adapter after ``options`` and ``context`` are set (default: nothing).

        Override this instead of ``__init__``: check options, resolve precision, note what to
        build — cheaply; build models on first use, so ``iadbench list`` and planning stay fast.
        """

    def fit(self, samples: Sequence[Sample]) -> None:
        """Train on ``samples`` and save what :meth:`load` needs into ``self.context.workdir``.

        Called once per training configuration, only when :func:`trains` and no finished
        training is stored: the runner owns reuse and locking
        (:mod:`iadbench.execution.training_stage`), so ``fit`` just trains. A method that trains
        implements it together with :meth:`load` (:func:`contract_problems`). Default: nothing.
        """

    def load(self) -> None:
        """Restore what :meth:`fit` saved in ``self.context.workdir`` (a finished training).

        The runner calls it instead of ``fit`` when the configuration's training is stored, and
        ``iadbench predict`` calls it before predicting. Required when ``capabilities.trains``.
        """
        raise NotImplementedError

    @classmethod
    def reference_shots(cls, options: Any) -> int:
        """Normal reference images per test category the method compares with (few-shot).

        When above 0, planning gives the adapter ``context.references`` (the test dataset's
        Train-subset normals that are not test images, fingerprinted into the configuration) and
        refuses a run where a category has fewer. Default 0: zero-shot or trained only.
        """
        return 0

    @classmethod
    def demo_setup(cls, cache_dir: Path) -> DemoSetup | None:
        """Options ``iadbench demo`` sets for this method's ``--tiny`` rows, and why; or None.

        For a method whose random tiny model shows nothing a reader can use (e.g. a text
        method that never writes an answer), a cheap tiny artefact built here (cached under
        ``cache_dir``) can make the row show the pipeline's figures. The options are recorded
        like any ``--set`` (the row's label names them); the note ends the demo's noise
        sentence. Default: None (the demo runs the method's ``--tiny`` defaults).
        """
        return None

    @classmethod
    def training_subset(cls, samples: Sequence[Sample], options: Any, seed: int) -> list[Sample]:
        """The images :meth:`fit` actually learns from, out of the training subset it is given.

        A method that trains on fewer (a ``max_train_samples`` cap, images held out for a
        monitor) overrides this with the very rule its ``fit`` applies, so that planning's
        checks (``needs_both_labels``) judge what is trained on and the training record names
        it. Default: every sample.
        """
        return list(samples)

    def preprocessor(self) -> Callable[[Sample], Any] | None:
        """A picklable function turning a sample into model input (e.g. a normalised tensor).

        When given, the runner calls it in DataLoader worker processes, ahead of the model, and
        passes the results to :meth:`predict` as ``inputs``; an image it fails on (unreadable,
        truncated) is recorded as an error for that image and never reaches ``predict``. It must
        not hold the model (it is pickled to every worker). Default: None (``inputs`` is None).
        """
        return None

    @abstractmethod
    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """One prediction per sample, in order.

        Args:
            batch: The samples.
            inputs: What :meth:`preprocessor` returned for each sample — always given when the
                adapter has a preprocessor (the runner owns decoding, also for direct calls
                through :func:`iadbench.predict_samples`) — or None when it has none.

        An image the adapter cannot process should give ``Prediction.failed(reason)`` rather than
        raise; if ``predict`` raises anyway, the runner retries the batch image by image and
        records the error against the images that fail.
        """

    def map_shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of every anomaly map :meth:`predict` returns; None: no maps.

        A method with ``capabilities.gives_maps`` overrides it (:func:`contract_problems`). An
        instance method, not a constant, because options and ``--tiny`` may change the size
        (AprilGAN's ``image_size``); it must not need a built model. The runner refuses a map of
        another shape (that image's error), so every stored map of a run has this shape.
        """
        return None

    def describe(self) -> dict[str, Any]:
        """Resolved facts worth recording in the manifest (model id, weights file, dtype...)."""
        return {}

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring, for ``iadbench list``."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def options_dict(cls, options: Any) -> dict[str, Any]:
        """Options as a JSON-ready dict (for the manifest and the content hash)."""
        if is_dataclass(options) and not isinstance(options, type):
            return asdict(options)
        return {}


def require_inputs(adapter: MethodAdapter[Any], inputs: Sequence[Any] | None) -> Sequence[Any]:
    """``inputs``, or a clear error when an adapter with a preprocessor is called without them.

    Raises:
        IADBenchError: ``inputs`` is None (``predict`` called on raw samples).
    """
    if inputs is None:
        raise IADBenchError(
            f"{type(adapter).__name__}.predict needs its preprocessor's inputs; call "
            "iadbench.predict_samples(adapter, samples), which decodes them as a run does"
        )
    return inputs


def required_methods(capabilities: Capabilities) -> frozenset[str]:
    """What a plugin must implement: ``predict``, plus ``fit`` and ``load`` when it trains.

    Everything else is optional: ``preprocessor`` (decoding in DataLoader workers), ``describe``
    (facts for the manifest), ``setup``, ``reference_shots``.
    """
    return frozenset({"predict", "fit", "load"} if capabilities.trains else {"predict"})


def trains(adapter_cls: type[MethodAdapter[Any]], options: Any) -> bool:
    """Whether this configuration trains — the one place that decides it.

    ``capabilities.trains``, unless an option declared ``option(..., replaces_training=True)``
    is set: it names trained weights to evaluate instead (LR-IAD's ``adapter=``, AnomalyGPT's
    ``checkpoint=``). When True, a run needs a training dataset and calls :meth:`MethodAdapter.fit`
    or :meth:`MethodAdapter.load`, and ``iadbench predict`` loads the stored training; when False,
    neither happens and the run is keyed by its test set alone.
    """
    if not adapter_cls.capabilities.trains:
        return False
    if not is_dataclass(options):
        return True
    return not any(
        getattr(options, f.name) for f in fields(options) if f.metadata.get("replaces_training")
    )


def contract_problems(adapter_cls: type[MethodAdapter[Any]]) -> list[str]:
    """What in an adapter class contradicts its declared capabilities (empty: none).

    Checked when a method is resolved, so a plugin learns at once, not mid-run.
    """
    caps, problems = adapter_cls.capabilities, []
    name = adapter_cls.__name__
    if not caps.needs_pixels and adapter_cls.preprocessor is not MethodAdapter.preprocessor:
        problems.append(f"{name} defines preprocessor() but declares needs_pixels=False")
    if not caps.trains and adapter_cls.load is not MethodAdapter.load:
        problems.append(f"{name} defines load() but declares trains=False")
    if caps.trains and adapter_cls.fit is MethodAdapter.fit:
        problems.append(f"{name} declares trains=True but defines no fit()")
    if caps.trains and adapter_cls.load is MethodAdapter.load:
        problems.append(f"{name} declares trains=True but defines no load() (to reuse a training)")
    if adapter_cls.answer_rules is not None and not caps.gives_text:
        problems.append(f"{name} declares answer_rules but gives_text=False")
    if caps.gives_maps and adapter_cls.map_shape is MethodAdapter.map_shape:
        problems.append(f"{name} declares gives_maps=True but defines no map_shape()")
    return problems
