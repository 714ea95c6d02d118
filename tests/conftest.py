"""Shared fixtures: small synthetic MVTec-AD and VisA trees in the official layouts."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest

# `make test` runs one pytest-xdist worker per core: torch's (OpenMP's) own pool of one thread
# per core in every worker oversubscribes the machine, and spinning threads then make the tiny
# trainings several times slower. One thread per worker (and per CLI subprocess it starts);
# set before anything imports torch. A single-process pytest keeps torch's default.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    # Likewise no DataLoader process per run: it would share the workers' cores, and a CLI run
    # of a torch-free method (pixel-stats, the tests' plugins) would import torch for the
    # DataLoader alone (1.2 s of CPU per start, issue 17: make test <= 8 min). Tests of the
    # worker path pass --workers / workers= themselves.
    os.environ.setdefault("IADBENCH_WORKERS", "0")
# Tests never reach a model hub; set before anything imports huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Trained artefacts and tiny checkpoints go to a throw-away cache, never the user's ~/.cache.
_TEST_CACHE = tempfile.mkdtemp(prefix="iadbench-test-cache-")
os.environ["IADBENCH_CACHE_DIR"] = _TEST_CACHE
atexit.register(shutil.rmtree, _TEST_CACHE, ignore_errors=True)
# Tiny checkpoints and the LR-IAD warm start (tiny-models/) are deterministic and written
# race-free (build_once: staged, then renamed into place), so pytest-xdist's workers share one
# copy: the process that loads this file first (the controller, before it starts the workers)
# creates it and hands it down through the environment. The warm start alone took 35-90 s per
# worker that needed it (issue 17: make test <= 8 min). Trained artefacts stay per worker.
_SHARED_MODELS = os.environ.get("IADBENCH_TEST_SHARED_MODELS")
if _SHARED_MODELS is None or not os.path.isdir(_SHARED_MODELS):
    _SHARED_MODELS = tempfile.mkdtemp(prefix="iadbench-test-models-")
    os.environ["IADBENCH_TEST_SHARED_MODELS"] = _SHARED_MODELS
    atexit.register(shutil.rmtree, _SHARED_MODELS, ignore_errors=True)
os.symlink(_SHARED_MODELS, os.path.join(_TEST_CACHE, "tiny-models"))

SYNTH_SCALE = 0.02


@pytest.fixture(scope="session")
def synth_mvtec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic MVTec-AD root at scale 0.02 (read-only: copy it before changing files)."""
    from iadbench.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth") / "mvtec"
    synthesize("mvtec", root, scale=SYNTH_SCALE, seed=0)
    return root


@pytest.fixture(scope="session")
def synth_visa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic VisA root (raw release layout) at scale 0.02 (read-only: copy it first)."""
    from iadbench.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth") / "visa"
    synthesize("visa", root, scale=SYNTH_SCALE, seed=0)
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module, restored after (``pytestmark = usefixtures(...)``).

    The tiny models' matrices are so small that torch's thread pool only costs time (10x on a
    busy 2-core machine), and one thread keeps their results bit-identical.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def restore_method_registry():
    """Put ``iadbench.execution.registry.METHODS`` back as it was before each test.

    A method a test registers (``METHODS.load_plugin_file``, ``@register_method``,
    ``METHODS.add``) is gone for the next test, which must register what it uses itself.
    Module-scoped fixtures are set up first, so what they register stays for their module.
    """
    from iadbench.execution.registry import METHODS

    entries = dict(METHODS._entries)
    conflicts = {name: list(clash) for name, clash in METHODS._conflicts.items()}
    loaded = METHODS._entry_points_loaded
    yield
    METHODS._entries.clear()
    METHODS._entries.update(entries)
    METHODS._conflicts.clear()
    METHODS._conflicts.update(conflicts)
    METHODS._entry_points_loaded = loaded


REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLUGIN = REPO_ROOT / "examples" / "iadbench-brightness-plugin" / "iadbench_brightness.py"


@pytest.fixture(scope="session")
def plugin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin guide's example (docs/plugins.md), unpackaged, self-registering (``--plugin``)."""
    source = EXAMPLE_PLUGIN.read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("plugin") / "brightness_plugin.py"
    path.write_text(
        source + '\n\niadbench.register_method("brightness")(Brightness)\n', encoding="utf-8"
    )
    return path


@pytest.fixture()
def data_args(synth_mvtec: Path, synth_visa: Path) -> list[str]:
    """``--data`` flags pointing at the shared synthetic trees."""
    return ["--data", f"mvtec={synth_mvtec}", "--data", f"visa={synth_visa}"]


# Normal images sit in "nominal" (a default normal name) and "pass" (named with --normal-folders).
OWN_PARTS_LAYOUT = {"bracket": {"nominal": 4, "scratch": 2}, "hinge": {"pass": 4, "bent": 2}}


@pytest.fixture()
def parts(tmp_path: Path) -> Path:
    """A folder dataset of drawn parts (the synthetic trees' painter), 12 images."""
    import numpy as np
    from PIL import Image

    from iadbench.data.synth_drawing import Painter

    root = tmp_path / "parts"
    for category, folders in OWN_PARTS_LAYOUT.items():
        painter = Painter("bottle", 32, False, np.random.default_rng(0))
        for folder, n in folders.items():
            (root / category / folder).mkdir(parents=True)
            for i in range(n):
                pixels = painter.normal() if folder in ("nominal", "pass") else painter.defect()[0]
                Image.fromarray(pixels).save(root / category / folder / f"{i:02d}.png")
    return root


# No ordering of test files here: under `make test` pytest-xdist 3 hands out whole files, those
# with the most tests first (its default loadscope reorder), whatever order collection gives.
# Forcing the two longest files (the learning proof, the demo from nothing) to start first, one
# per worker, was measured slower on 2 cores (2026-12-07: tests 7 min 37 s and 824 s of CPU
# against 7 min 07 s and 765 s): two torch trainings at once slow each other down.


#: Set to a folder, this makes every test process write the CPU time (user + sys, its own and
#: that of the subprocesses it waited for: the CLI runs, torchrun, kill -9 attempts) each test
#: file took, and the session print the files that took the most. CPU time, not wall time: the
#: figures hold on a machine shared with other work, where --durations does not (issue 17:
#: make test <= 8 min). `IADBENCH_TEST_CPU_DIR=/tmp/cpu make test` reaches every worker.
CPU_TIMES_DIR = "IADBENCH_TEST_CPU_DIR"
_cpu_by_file: dict[str, float] = {}


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def pytest_sessionstart(session: pytest.Session) -> None:
    """Drop an earlier session's per-worker files (before any worker writes its own)."""
    folder = os.environ.get(CPU_TIMES_DIR)
    if folder and not os.environ.get("PYTEST_XDIST_WORKER"):
        for stale in Path(folder).glob("cpu-*.json"):
            stale.unlink()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """Add the CPU time of a test (setup, call, teardown) to its file's total."""
    if not os.environ.get(CPU_TIMES_DIR):
        yield
        return
    start = _cpu_seconds()
    yield
    path = item.nodeid.split("::", 1)[0]
    _cpu_by_file[path] = _cpu_by_file.get(path, 0.0) + _cpu_seconds() - start


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write this process's per-file CPU times (one JSON file per pytest-xdist worker)."""
    folder = os.environ.get(CPU_TIMES_DIR)
    if folder and _cpu_by_file:
        import json

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"cpu-{worker}.json").write_text(json.dumps(_cpu_by_file, indent=1))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Sum the workers' files (all written by now: they end before the controller reports)."""
    folder = os.environ.get(CPU_TIMES_DIR)
    if not folder or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    import json

    totals: dict[str, float] = {}
    for written in sorted(Path(folder).glob("cpu-*.json")):
        for path, seconds in json.loads(written.read_text()).items():
            totals[path] = totals.get(path, 0.0) + seconds
    ranked = sorted(totals.items(), key=lambda pair: -pair[1])
    (Path(folder) / "by_file.tsv").write_text(
        "".join(f"{seconds:.1f}\t{path}\n" for path, seconds in ranked)
    )
    terminalreporter.section(f"CPU seconds per test file (user + sys with subprocesses; {folder})")
    terminalreporter.line(f"{sum(totals.values()):.1f} s in {len(totals)} files; the largest:")
    for path, seconds in ranked[:30]:
        terminalreporter.line(f"{seconds:8.1f}  {path}")
