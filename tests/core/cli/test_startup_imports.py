"""Start-up discipline: `--help` and re-running a finished run import no heavy library.

Each command runs through the real console entry point in a fresh interpreter, which then
reports which of :data:`HEAVY` reached ``sys.modules``. Issue 17 measured a finished re-run at
1.88 s because ``cli/display.py`` pulled scikit-learn in through the leaderboard package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sklearn", "scipy", "torch", "matplotlib", "transformers")
#: Also kept off a finished re-run: numpy alone is a tenth of a second, and the 8x target of
#: benchmarks/bench_harness.py was met only once it stayed out (issue 17).
RERUN_HEAVY = (*HEAVY, "numpy")

_PROBE = """
import json, sys
from iadbench.cli import main
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["iadbench", *args]
try:
    main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
heavy = [name for name in watched if name in sys.modules]
print("\\nPROBE " + json.dumps({"code": code, "heavy": heavy}))
"""


def heavy_imports(*args: str, cwd: Path, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """Run ``iadbench ARGS`` in a fresh interpreter; the heavy modules it imported."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args)), json.dumps(watched)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("PROBE "), done.stdout + done.stderr
    probe = json.loads(line.removeprefix("PROBE "))
    assert probe["code"] in (0, None), done.stdout + done.stderr
    return list(probe["heavy"])


#: What ``--help`` must not import either: the registry (package metadata) and the adapter
#: base class, which the package root re-exports lazily (``iadbench.contract.lazy``); an eager
#: root made ``--help`` 3.2x a bare start (benchmarks/bench_harness.py).
#: Nor typer's rich help renderer: ``typer.rich_utils`` imports rich.markdown, markdown-it and
#: rich.traceback, alone 2.1-2.6x a bare start; iadbench draws help with
#: ``iadbench.cli.help_render`` instead.
HELP_HEAVY = (
    *HEAVY, "iadbench.execution.registry", "iadbench.contract.method", "typer.rich_utils"
)


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    assert heavy_imports("--help", cwd=tmp_path, watched=HELP_HEAVY) == []
    assert heavy_imports("run", "--help", cwd=tmp_path, watched=HELP_HEAVY) == []


@pytest.mark.parametrize("method", ["always-normal"])
def test_rerunning_a_finished_run_imports_no_heavy_library(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    run = ["run", "--method", method, "--test", "mvtec", f"--data=mvtec={synth_mvtec}"]
    out = ["--out", str(tmp_path / "run")]
    first = heavy_imports(*run, *out, cwd=tmp_path)
    assert "sklearn" in first, "the first run computes metrics: the probe must see sklearn"
    assert (tmp_path / "run" / "summary.json").exists()
    assert heavy_imports(*run, *out, cwd=tmp_path, watched=RERUN_HEAVY) == []


def test_a_run_of_a_method_without_torch_never_imports_it(tmp_path: Path, synth_mvtec: Path):
    """pixel-stats reads images through the prediction loop's pre-processing (issue 17): with
    no loader workers the loop runs in-process, as DataLoader(num_workers=0) would, and torch
    (1.2 s of CPU per start) stays out."""
    run = ["run", "--method", "pixel-stats", "--test", "mvtec", "--test-split", "test",
           f"--data=mvtec={synth_mvtec}", "--out", str(tmp_path / "run"),
           "--workers", "0"]  # fmt: skip
    assert "torch" not in heavy_imports(*run, cwd=tmp_path, watched=("torch",))
    assert (tmp_path / "run" / "summary.json").exists()
