"""One adapter-construction path (issue 17 item 3): ``run``, ``train`` and ``predict`` build their
adapters through :mod:`iadbench.execution.adapter_setup`, which resolves ``--device`` once."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.execution.training_stage import train_only

REPO = Path(__file__).resolve().parents[3]
#: The one module of the execution and CLI layers that builds a RunContext or resolves a device.
CONSTRUCTION = Path("iadbench/execution/adapter_setup.py")


def constructions(path: Path) -> list[str]:
    """``RunContext(...)`` calls and ``resolve_device`` names in a module's source."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RunContext":
            found.append(f"{path.name}:{node.lineno} RunContext(...)")
        elif isinstance(node, ast.alias) and node.name == "resolve_device":
            found.append(f"{path.name} imports resolve_device")
    return found


def test_only_adapter_setup_builds_contexts_and_resolves_devices() -> None:
    offenders = [
        finding
        for layer in ("execution", "cli")
        for path in sorted((REPO / "iadbench" / layer).rglob("*.py"))
        if path.relative_to(REPO) != CONSTRUCTION
        for finding in constructions(path)
    ]
    assert offenders == []
    assert constructions(REPO / CONSTRUCTION)  # the check looks at the right thing


def test_the_rule_catches_a_second_construction(tmp_path: Path) -> None:
    module = tmp_path / "elsewhere.py"
    module.write_text(
        "from iadbench.contract.devices import resolve_device\n"
        "def build(cls):\n    return cls(context=RunContext(device=resolve_device('auto')))\n"
    )
    assert constructions(module) == [
        "elsewhere.py imports resolve_device",
        "elsewhere.py:3 RunContext(...)",
    ]


_DEVICE_ECHO = """
import iadbench

@iadbench.register_method("device-echo")
class DeviceEcho(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False, trains=True)  # builds models

    def fit(self, samples, context=None):
        (self.context.workdir / "fit-device").write_text(self.context.device)

    def load(self, workdir=None):
        pass

    def predict(self, batch):
        return [iadbench.Prediction("normal", text=self.context.device) for _ in batch]
"""


def test_train_gets_the_device_a_run_gets(tmp_path: Path, synth_mvtec: Path, synth_visa: Path):
    """``train --device auto`` resolves the device as ``run`` does (it once passed ``auto`` on)."""
    pytest.importorskip("torch")
    plugin = tmp_path / "echo.py"
    plugin.write_text(_DEVICE_ECHO)
    METHODS.load_plugin_file(plugin)
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}
    trained = train_only(
        plan_run(RunRequest(method="device-echo", train="visa", test="visa", data_roots=roots,
                            train_split="train", cache_dir=tmp_path / "cache"))
    )  # fmt: skip
    fit_device = (trained / "fit-device").read_text()
    assert fit_device in ("cpu", "cuda")
    run = RunRequest(
        method="device-echo", train="visa", test="mvtec", data_roots=roots, train_split="train",
        cache_dir=tmp_path / "cache", out=tmp_path / "r",
    )  # fmt: skip
    outcome = execute_run(plan_run(run))
    first = json.loads((outcome.out / "predictions.jsonl").read_text().splitlines()[0])
    assert first["text"] == fit_device
