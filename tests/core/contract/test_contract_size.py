"""How much a plugin author must learn: predict, plus what the declared capabilities require."""

from __future__ import annotations

import re
from pathlib import Path

from iadbench.contract.method import (
    Capabilities,
    MethodAdapter,
    contract_problems,
    required_methods,
)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "iadbench-brightness-plugin" / "iadbench_brightness.py"


def test_predict_is_the_only_abstract_method():
    assert MethodAdapter.__abstractmethods__ == frozenset({"predict"})


def test_required_methods_follow_the_capabilities():
    assert required_methods(Capabilities(needs_pixels=False)) == {"predict"}
    assert required_methods(Capabilities(trains=True)) == {"predict", "fit"}


def test_the_example_plugin_implements_what_its_capabilities_require_and_load():
    namespace: dict[str, object] = {}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)
    plugin = namespace["Brightness"]
    assert isinstance(plugin, type) and issubclass(plugin, MethodAdapter)
    implemented = {  # functions only: Options is a declaration, like capabilities and version
        name
        for name, value in vars(plugin).items()
        if callable(value) and not isinstance(value, type) and not name.startswith("_")
    }
    assert implemented == required_methods(plugin.capabilities) | {"load"}
    assert contract_problems(plugin) == []


def test_a_trainer_without_fit_is_a_contract_problem():
    class NoFit(MethodAdapter):
        capabilities = Capabilities(needs_pixels=False, trains=True)

        def predict(self, batch, inputs=None):
            return []

    assert contract_problems(NoFit) == ["NoFit declares trains=True but defines no fit()"]


def test_the_plugin_guides_example_fits_on_one_screen():
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n# iadbench_brightness.py\n(.*?)```", guide, re.S)
    assert block is not None
    assert len(block.group(1).splitlines()) <= 50
