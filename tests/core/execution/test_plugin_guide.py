"""docs/plugins.md tells a plugin author what they had to discover (issue 19 item 11).

The guide's example block runs as written; what the guide states about samples, the default
training subset, the labels ``fit`` receives and the default threshold is what the code does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iadbench.contract.method import Capabilities, MethodAdapter, NoOptions
from iadbench.contract.records import Prediction, Sample
from iadbench.data.splits import load_split_table
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.runs.thresholds import DEFAULT_POLICY

REPO = Path(__file__).resolve().parents[3]
GUIDE = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_the_guide_names_every_field_of_sample():
    for field in dataclasses.fields(Sample):
        assert f"| `{field.name}` |" in GUIDE, field.name


def test_the_guide_states_the_default_subset_and_threshold_the_code_uses():
    table = load_split_table()
    assert table.train_split("a-plugin-absent-from-the-table") == table.training_default
    assert f"which is `{table.training_default}`" in GUIDE
    assert DEFAULT_POLICY == "fixed:0.5" and "judged at `fixed:0.5`" in GUIDE
    assert "typing.Literal[" in GUIDE and "threshold_never_crossed" in GUIDE


class _Recorder(MethodAdapter[NoOptions]):
    """Remembers the labels ``fit`` received."""

    capabilities = Capabilities(needs_pixels=False, trains=True, builds_models=False)
    seen: set[str] = set()

    def fit(self, samples: Sequence[Sample]) -> None:
        _Recorder.seen = {s.label for s in samples}
        assert self.context.workdir is not None
        (self.context.training_dir() / "done").write_text("ok")

    def load(self) -> None:
        """Nothing to restore."""

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        return [Prediction(label="normal")] * len(batch)


def _run(method: str, tmp_path: Path, roots: dict[str, str], **extra: Any) -> dict[str, Any]:
    request = RunRequest(
        method=method, train="visa", test="mvtec", tiny=True, data_roots=roots,
        out=tmp_path / method, cache_dir=tmp_path / "cache", **extra,
    )  # fmt: skip
    summary: dict[str, Any] = execute_run(plan_run(request)).summary
    return summary


def test_fit_receives_both_labels_when_the_subset_holds_them(tmp_path, synth_mvtec, synth_visa):
    METHODS.add("label-recorder", _Recorder, "tests (label recorder)")
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}
    _run("label-recorder", tmp_path / "train", roots)
    assert _Recorder.seen == {"normal"}  # the default subset: VisA's Train holds normals only
    _run("label-recorder", tmp_path / "all", roots, train_split="all")
    assert _Recorder.seen == {"normal", "defect"}


def test_the_guides_example_block_runs_as_written(tmp_path, synth_mvtec, synth_visa):
    block = re.search(r"```python\n# iadbench_brightness.py\n(.*?)```", GUIDE, re.S)
    assert block is not None
    plugin = tmp_path / "guide_brightness.py"
    registration = '\n\niadbench.register_method("guide-brightness")(Brightness)\n'
    plugin.write_text(block.group(1) + registration, encoding="utf-8")
    METHODS.load_plugin_file(plugin)
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}
    summary = _run("guide-brightness", tmp_path, roots)
    assert summary["threshold"] == DEFAULT_POLICY and summary["overall"]["n"] > 0
