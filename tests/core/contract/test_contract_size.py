"""How much a plugin author must learn: predict, plus what the declared capabilities require."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import iadbench
from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import (
    Capabilities,
    MethodAdapter,
    RunContext,
    contract_problems,
    required_methods,
    trains,
)
from iadbench.contract.options import option

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "iadbench-brightness-plugin" / "iadbench_brightness.py"


def test_predict_is_the_only_abstract_method():
    assert MethodAdapter.__abstractmethods__ == frozenset({"predict"})


def test_required_methods_follow_the_capabilities():
    assert required_methods(Capabilities(needs_pixels=False)) == {"predict"}
    assert required_methods(Capabilities(trains=True)) == {"predict", "fit", "load"}


def test_the_example_plugin_implements_what_its_capabilities_require():
    namespace: dict[str, object] = {}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)
    plugin = namespace["Brightness"]
    assert isinstance(plugin, type) and issubclass(plugin, MethodAdapter)
    implemented = {  # functions only: Options is a declaration, like capabilities and version
        name
        for name, value in vars(plugin).items()
        if callable(value) and not isinstance(value, type) and not name.startswith("_")
    }
    assert implemented == required_methods(plugin.capabilities)
    assert contract_problems(plugin) == []


def test_a_trainer_without_fit_is_a_contract_problem():
    class NoFit(MethodAdapter):
        capabilities = Capabilities(needs_pixels=False, trains=True)

        def predict(self, batch, inputs=None):
            return []

    assert contract_problems(NoFit) == [
        "NoFit declares trains=True but defines no fit()",
        "NoFit declares trains=True but defines no load() (to reuse a training)",
    ]


def test_a_trainer_without_load_is_a_contract_problem():
    class NoLoad(MethodAdapter):
        capabilities = Capabilities(needs_pixels=False, trains=True)

        def fit(self, samples):
            pass

        def predict(self, batch, inputs=None):
            return []

    assert contract_problems(NoLoad) == [
        "NoLoad declares trains=True but defines no load() (to reuse a training)"
    ]


def test_one_context_spells_tiny_device_and_the_training_dir():
    assert list(inspect.signature(MethodAdapter.__init__).parameters) == [
        "self", "options", "context"
    ]  # fmt: skip
    assert list(inspect.signature(MethodAdapter.fit).parameters) == ["self", "samples"]
    assert list(inspect.signature(MethodAdapter.load).parameters) == ["self"]
    assert not hasattr(iadbench, "FitContext")
    for spelling in ("tiny", "device", "artifacts_dir", "inference_only_options", "tiny_options"):
        assert not hasattr(MethodAdapter, spelling), spelling


def test_training_dir_is_required_and_created(tmp_path):
    with pytest.raises(IADBenchError, match="RunContext\\(workdir="):
        RunContext().training_dir()
    assert RunContext(workdir=tmp_path / "t").training_dir().is_dir()


@dataclasses.dataclass(frozen=True)
class _Options:
    weights: str = option("", replaces_training=True)
    lr: float = 0.1


class _Trainer(MethodAdapter[_Options]):
    capabilities = Capabilities(needs_pixels=False, trains=True)
    Options = _Options

    def fit(self, samples):
        pass

    def load(self):
        pass

    def predict(self, batch, inputs=None):
        return []


class _Zero(MethodAdapter[_Options]):
    capabilities = Capabilities(needs_pixels=False)
    Options = _Options

    def predict(self, batch, inputs=None):
        return []


def test_trains_is_decided_once_by_capabilities_and_replacing_options():
    assert trains(_Trainer, _Options())
    assert not trains(_Trainer, _Options(weights="/given/weights"))
    assert not trains(_Zero, _Options())  # the option only matters for a method that trains


def test_the_plugin_guides_example_fits_on_one_screen():
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n# iadbench_brightness.py\n(.*?)```", guide, re.S)
    assert block is not None
    assert len(block.group(1).splitlines()) <= 50
