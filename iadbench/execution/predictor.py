"""What ``iadbench predict`` predicts with: a method configuration and its stored training.

A :class:`Predictor` comes either from a stored run (``--from-run DIR``: its method, options,
seed, trained artefacts and the threshold value its policy chose) or from the same flags as
``run`` (a :class:`~iadbench.execution.request.RunRequest`). Both resolve the method as planning
does (:func:`~iadbench.execution.planning.resolve_method`) and build the adapter as a run does
(:func:`~iadbench.execution.adapter_setup.build_adapter`). A method that trains is found by its
training hash (``<cache>/trained/<method>/<hash>``, written by ``iadbench train`` or ``run``)
unless its options name trained weights (LR-IAD's ``adapter=``, AnomalyGPT's ``checkpoint=``;
:func:`~iadbench.contract.method.trains`). Nothing is trained here: a
missing training is an error that names the command making it. The method's own code failing
in ``load`` or ``predict`` is a :class:`~iadbench.execution.crash.MethodCrash`, as in a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import MethodAdapter, trains
from iadbench.contract.options import option_text
from iadbench.execution.adapter_setup import MethodSetup, build_adapter
from iadbench.execution.crash import method_stage
from iadbench.execution.planned_data import references_by_category, stored_references
from iadbench.execution.planning import RunRequest as RunRequest  # predict.py names it here
from iadbench.execution.planning import plan_run, resolve_method, trained_dir
from iadbench.execution.registry import METHODS
from iadbench.execution.training_stage import TRAINED_MARKER
from iadbench.runs.reader import StoredRun, UnusableRun, open_run


@dataclass(frozen=True)
class Predictor:
    """A resolved method configuration: what predicts, from which weights, with which threshold.

    Attributes:
        method: The method's name.
        setup: What its adapter is built from (options, seed, training dir, references).
        threshold: The policy text, or None for a method that gives no scores.
        threshold_value: The number a score decides against (None: the method's own labels).
        source: Where the configuration came from, for people (``run DIR`` or ``flags``).
        dataset: Dataset name the images are presented under (a run's test dataset).
        data_roots: Dataset roots this configuration reads (a run's recorded roots, ``--data``):
            predict never writes its output into them.
        categories: The categories it knows: a run's test categories, or those of the training
            the flags name; empty when nothing names any (a zero-shot method by flags).
        categories_of: What :attr:`categories` belong to, for people (``run``, ``training``).
    """

    method: str
    setup: MethodSetup
    threshold: str | None
    threshold_value: float | None
    source: str
    dataset: str
    data_roots: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    categories_of: str = "run"

    def identity(self) -> dict[str, Any]:
        """What decides this predictor's rows, as JSON values: two equal identities predict alike.

        ``predict`` records it beside unfinished rows and resumes only a file made with the same
        one (where the configuration came from does not matter: a run dir and the equivalent
        flags predict alike).
        """
        setup = self.setup
        options = setup.options
        return {
            "method": self.method,
            "version": METHODS.get(self.method).version,
            "options": {
                f.name: option_text(getattr(options, f.name)) for f in dataclasses.fields(options)
            },
            "tiny": setup.tiny,
            "seed": setup.seed,
            "training": None if setup.workdir is None else str(setup.workdir),
            "references": {
                category: [s.image_path for s in samples]
                for category, samples in sorted(setup.references.items())
            },
            "threshold": self.threshold,
            "threshold_value": self.threshold_value,
        }

    def check_categories(self, categories: Iterable[str]) -> None:
        """A few-shot predictor has references for its run's categories only.

        Raises:
            IADBenchError: An image's category has no reference images.
        """
        references = self.setup.references
        if not references:
            return
        unknown = sorted(set(categories) - set(references))
        if unknown:
            raise IADBenchError(
                f"few-shot {self.method} has reference images for "
                f"{', '.join(sorted(references))} only, not for {', '.join(unknown)}: "
                "put the images in folders named by category, or name it with --category"
            )


def resolve_predictor(source: RunRequest | Path) -> Predictor:
    """The method configuration of flags or of a stored run, with its trained weights located.

    Args:
        source: The flags (``test`` is the dataset name the images are presented under), or
            the dir of a complete run whose configuration, training and threshold are reused.

    Raises:
        IADBenchError: The run is incomplete or from another method version, or a policy needs
            what predict cannot know.
    """
    if isinstance(source, Path):
        return _from_run(source)
    request = source
    method = resolve_method(request)
    threshold, value = method.threshold, None
    if (policy := method.policy) is not None:
        if policy.kind != "fixed":
            raise IADBenchError(
                f"--threshold {threshold}: predict has no labelled images to choose a threshold "
                f"on; use --from-run DIR of a run under that policy (its chosen value is applied) "
                f"or fixed:T"
            )
        value = policy.value
    workdir: Path | None = None
    categories: tuple[str, ...] = ()
    if trains(method.adapter_cls, method.options) and request.train is not None:
        workdir, categories = _trained_dir_by_hash(request)
    setup = MethodSetup(method.adapter_cls, method.options, method.tiny, request.seed, workdir)
    return Predictor(
        request.method, setup, threshold, value, "flags", request.test,
        tuple(request.data_roots.values()), categories, "training",
    )  # fmt: skip


def _trained_dir_by_hash(request: RunRequest) -> tuple[Path, tuple[str, ...]]:
    """The training dir ``run`` would use for these flags, and the categories trained on.

    The training data is fingerprinted, so it is read here anyway; its categories are what the
    trained method knows (they decide predict's default category:
    :func:`~iadbench.execution.unlabeled_images.told_categories`).
    """
    assert request.train is not None
    plan = plan_run(
        RunRequest(
            method=request.method, train=request.train, test=request.train,
            train_split=request.train_split, options=request.options, tiny=request.tiny,
            seed=request.seed, data_roots=request.data_roots, cache_dir=request.cache_dir,
        )
    )  # fmt: skip
    trained_on = sorted({s.category for s in plan.data.train or ()})
    return trained_dir(plan), tuple(trained_on)


def _from_run(run_dir: Path) -> Predictor:
    run = _read_stored_run(run_dir)
    summary, config = run.summary, run.config
    if config["method"] not in METHODS.names():
        raise _unloaded_method(run, run_dir)
    installed = METHODS.get(config["method"]).version
    if installed != config["method_version"]:
        raise IADBenchError(
            f"--from-run {run_dir}: made by {config['method']} version {config['method_version']}, "
            f"installed is version {installed}, whose predictions differ"
        )
    # The stored configuration, resolved as planning resolves flags (its options are complete).
    method = resolve_method(
        RunRequest(
            method=config["method"], train=None, test=str(summary["test"]["dataset"]),
            options={k: option_text(v) for k, v in config["options"].items()},
            tiny=bool(config["tiny"]), threshold=summary.get("threshold"),
        )
    )  # fmt: skip
    trained = run.trained_artifacts
    references = {}
    if method.adapter_cls.reference_shots(method.options) > 0:
        found = stored_references(config)
        if found is None:
            raise IADBenchError(
                f"--from-run {run_dir}: the few-shot reference images under "
                f"{config['test']['root']} are not the ones the run compared with (added, "
                "removed or changed since); predict with a fresh run"
            )
        references = references_by_category(found)
    setup = MethodSetup(
        method.adapter_cls, method.options, method.tiny, int(config["seed"]),
        trained, references,
    )  # fmt: skip
    return Predictor(
        config["method"], setup, summary.get("threshold"), summary.get("threshold_value"),
        f"run {run_dir}", str(summary["test"]["dataset"]), _recorded_roots(config),
        tuple(sorted(summary["per_class"])), "run",
    )  # fmt: skip


#: Module name prefix of a plugin file's module (``MethodRegistry.load_plugin_file``), as the
#: manifest records it in ``method.class``.
_PLUGIN_MODULE = "iadbench_plugin_"


def _unloaded_method(run: StoredRun, run_dir: Path) -> IADBenchError:
    """Why a stored run's method is not registered here, and what loads it (issue 19).

    The manifest records where the method came from: ``method.class`` (a plugin file's module is
    ``iadbench_plugin_<stem>_…``) and the command line, whose ``--plugin`` paths are the files.
    """
    name = run.config["method"]
    recorded = run.manifest.get("method")
    origin = recorded.get("class") if isinstance(recorded, dict) else None
    plugins = _plugin_arguments(run.manifest.get("command"))
    if plugins or (isinstance(origin, str) and origin.startswith(_PLUGIN_MODULE)):
        files = f"the plugin file {', '.join(plugins)}" if plugins else "a plugin file"
        flags = " ".join(f"--plugin {p}" for p in plugins) if plugins else "--plugin PATH"
        relative = any(not Path(p).is_absolute() for p in plugins)
        note = " (as the run was given it: relative to the folder it ran in)" if relative else ""
        return IADBenchError(
            f"--from-run {run_dir}: the run was made with method {name!r} from {files} "
            f"(recorded in its manifest.json), which this command has not loaded: add "
            f"{flags}{note}"
        )
    source = f" ({origin})" if isinstance(origin, str) else ""
    return IADBenchError(
        f"--from-run {run_dir}: the run was made with method {name!r}{source}, which is not "
        "installed here: install the package that provides it, or load its file with "
        "--plugin PATH"
    )


def _plugin_arguments(command: Any) -> list[str]:
    """The ``--plugin`` paths of a recorded command line (``--plugin P`` and ``--plugin=P``)."""
    if not isinstance(command, list):
        return []
    found = []
    for i, arg in enumerate(command):
        if arg == "--plugin" and i + 1 < len(command):
            found.append(str(command[i + 1]))
        elif isinstance(arg, str) and arg.startswith("--plugin="):
            found.append(arg.removeprefix("--plugin="))
    return found


def _recorded_roots(config: dict[str, Any]) -> tuple[str, ...]:
    """The dataset roots a run's manifest records (its training and test data)."""
    roots = []
    for part in (config.get("train"), config.get("test")):
        if isinstance(part, dict) and isinstance(part.get("root"), str):
            roots.append(part["root"])
    return tuple(roots)


def _read_stored_run(run_dir: Path) -> StoredRun:
    """A complete run dir whose seal holds (the one place predict reads a stored run).

    Its threshold decides every label predict writes, so it is trusted only as ``leaderboard``
    and ``compare`` trust a run: an edited summary and an unsealed one (written before seals
    existed, whose threshold nothing vouches for) are refused alike.

    Raises:
        IADBenchError: Not a complete run dir, its summary or predictions changed since, or its
            summary carries no seal.
    """
    try:
        run = open_run(run_dir)
    except UnusableRun as unusable:
        raise IADBenchError(
            f"--from-run {run_dir}: {unusable.reason}; give the dir of a complete run (finish a "
            "started one with the same `iadbench run` command first)"
        ) from None
    if problem := run.seal_problem():
        fix = (
            "run the same `iadbench run` command again to seal it (the summary is recomputed "
            "from its predictions)"
            if problem.unsealed
            else "restore it, or re-run it with `iadbench run ... --overwrite`"
        )
        raise IADBenchError(
            f"--from-run {run_dir}: {problem}; its threshold cannot be trusted: {fix}"
        )
    if run.config_edited():
        raise IADBenchError(
            f"--from-run {run_dir}: manifest.json's configuration was edited (it no longer gives "
            "its config_hash), so the method cannot be rebuilt as it ran: restore it, or re-run "
            "it with `iadbench run ... --overwrite`"
        )
    return run


def predictor_adapter(predictor: Predictor, device: str, maps_dir: Path) -> MethodAdapter[Any]:
    """The predictor's adapter, built as a run builds it, with its trained weights loaded.

    Raises:
        IADBenchError: The method needs reference images or a training that is not stored.
        MethodCrash: The method's ``load`` raised.
    """
    setup = predictor.setup
    if setup.adapter_cls.reference_shots(setup.options) > 0 and not setup.references:
        raise IADBenchError(
            f"{predictor.method} is configured few-shot and needs reference images: use "
            "--from-run DIR of a few-shot run (its references are used), or a zero-shot setting "
            "of its options if it has one (`iadbench list --options`)"
        )
    adapter = build_adapter(setup, device, maps_dir)
    if trains(setup.adapter_cls, setup.options):
        _load_training(adapter, predictor)
    return adapter


def _load_training(adapter: MethodAdapter[Any], predictor: Predictor) -> None:
    name = predictor.method
    workdir = predictor.setup.workdir
    if workdir is None:
        raise IADBenchError(
            f"{name} trains: name its training with --train DATASET (and the flags the training "
            "used), or use --from-run DIR of a run of it"
        )
    if not (workdir / TRAINED_MARKER).is_file():
        raise IADBenchError(
            f"no finished training of this configuration in {workdir}; make it with "
            "`iadbench train` and the same --method/--train/--set/--tiny/--seed flags (or "
            "`iadbench run`), then predict again"
        )
    with method_stage(name, "loading its training"):  # one line, as a run's crash (crash.py)
        adapter.load()


def predicting(predictor: Predictor) -> AbstractContextManager[None]:
    """Around the predict loop: what the method's ``predict`` raises becomes a ``MethodCrash``.

    The line ``run`` prints for a method's crash (method, stage, exception; exit 70), not a
    traceback through iadbench; the rows appended before it stay in the ``.partial`` file.
    """
    return method_stage(predictor.method, "predicting")
