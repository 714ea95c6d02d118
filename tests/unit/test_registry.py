import subprocess
import sys
import textwrap

import pytest

from iadbench.errors import UnknownNameError
from iadbench.method import Capabilities, MethodAdapter
from iadbench.records import Prediction
from iadbench.registry import MethodRegistry, RegistryError


class _Dummy(MethodAdapter):
    capabilities = Capabilities(needs_pixels=False)

    def predict(self, batch):
        return [Prediction(label="normal") for _ in batch]


def test_builtin_baselines_come_through_the_entry_point_group():
    registry = MethodRegistry()
    assert {"always-defect", "always-normal"} <= set(registry.names())
    assert "entry point" not in registry.entry("always-defect").source
    assert "iadbench_methods.baselines" in registry.entry("always-defect").source


def test_listing_names_imports_no_adapter_module():
    code = (
        "import sys; from iadbench.registry import METHODS; METHODS.names(); "
        "assert 'iadbench_methods.baselines' not in sys.modules; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match="Did you mean 'always-defect'"):
        MethodRegistry().get("always-defekt")


def test_wildcards_expand_in_given_order_without_repeats():
    registry = MethodRegistry()
    assert registry.expand(["always-normal", "always-*"]) == ["always-normal", "always-defect"]


def test_same_name_from_another_source_is_an_error():
    registry = MethodRegistry(group="iadbench.none")
    registry.add("x", _Dummy, "first")
    with pytest.raises(RegistryError, match="registered twice"):
        registry.add("x", _Dummy, "second")


def test_lazy_entry_must_resolve_to_an_adapter():
    registry = MethodRegistry(group="iadbench.none")
    registry.add("bad", "json:dumps", "test")
    with pytest.raises(RegistryError, match="not a MethodAdapter"):
        registry.get("bad")


def test_plugin_file_registers_its_method(tmp_path):
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text(
        textwrap.dedent("""
        import iadbench

        @iadbench.register_method("plugin-normal")
        class PluginNormal(iadbench.MethodAdapter):
            capabilities = iadbench.Capabilities(needs_pixels=False)
            def predict(self, batch):
                return [iadbench.Prediction(label="normal") for _ in batch]
    """)
    )
    from iadbench.registry import METHODS

    assert METHODS.load_plugin_file(plugin) == ["plugin-normal"]
    assert METHODS.get("plugin-normal").__name__ == "PluginNormal"
    # Loading the same file again (e.g. matrix after run in one process) is not a duplicate.
    assert METHODS.load_plugin_file(plugin) == ["plugin-normal"]


def test_plugin_file_that_registers_nothing_is_an_error(tmp_path):
    plugin = tmp_path / "empty_plugin.py"
    plugin.write_text("x = 1\n")
    from iadbench.registry import METHODS

    with pytest.raises(RegistryError, match="registered no method"):
        METHODS.load_plugin_file(plugin)


def test_plugin_file_that_fails_to_import_is_reported(tmp_path):
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("raise RuntimeError('boom')\n")
    from iadbench.registry import METHODS

    with pytest.raises(RegistryError, match="failed to import.*boom"):
        METHODS.load_plugin_file(plugin)
