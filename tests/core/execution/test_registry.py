import subprocess
import sys
import textwrap

import pytest

from iadbench.contract.errors import UnknownNameError
from iadbench.contract.method import Capabilities, MethodAdapter
from iadbench.contract.records import Prediction
from iadbench.execution.registry import MethodRegistry, RegistryError


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
        "import sys; from iadbench.execution.registry import METHODS; METHODS.names(); "
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
    from iadbench.execution.registry import METHODS

    assert METHODS.load_plugin_file(plugin) == ["plugin-normal"]
    assert METHODS.get("plugin-normal").__name__ == "PluginNormal"
    # Loading the same file again (e.g. matrix after run in one process) is not a duplicate.
    assert METHODS.load_plugin_file(plugin) == ["plugin-normal"]


def test_plugin_file_that_registers_nothing_is_an_error(tmp_path):
    plugin = tmp_path / "empty_plugin.py"
    plugin.write_text("x = 1\n")
    from iadbench.execution.registry import METHODS

    with pytest.raises(RegistryError, match="registered no method"):
        METHODS.load_plugin_file(plugin)


def test_plugin_file_that_fails_to_import_is_reported(tmp_path):
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("raise RuntimeError('boom')\n")
    from iadbench.execution.registry import METHODS

    with pytest.raises(RegistryError, match="failed to import.*boom"):
        METHODS.load_plugin_file(plugin)


def _fake_distribution(root, dist, module, names):
    """A ``*.dist-info`` (nothing installed) whose module writes ``root/<module>.imported``."""
    marker = root / f"{module}.imported"
    (root / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "from iadbench_methods.baselines import AlwaysNormal as Fake\n"
    )
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[iadbench.methods]\n" + "".join(f"{n} = {module}:Fake\n" for n in names)
    )
    return marker


def test_entries_carry_target_and_distribution_from_metadata_without_importing(
    tmp_path, monkeypatch
):
    marker = _fake_distribution(tmp_path, "meta-plugin", "reg_meta_mod", ["meta-a", "meta-b"])
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = MethodRegistry()
    assert {"meta-a", "meta-b", "always-defect"} <= set(registry.names())
    entry = registry.entry("meta-a")
    assert (entry.value, entry.origin) == ("reg_meta_mod:Fake", "meta-plugin")
    assert registry.entry("always-defect").origin == "iadbench"
    assert registry.expand(["meta-*"]) == ["meta-a", "meta-b"]
    assert not marker.exists()
    assert registry.get("always-normal").__name__ == "AlwaysNormal"  # another name: no import
    assert not marker.exists()
    assert registry.get("meta-b").__name__ == "AlwaysNormal"
    assert marker.exists()


def test_name_declared_by_two_distributions_is_a_conflict_decided_without_importing(
    tmp_path, monkeypatch
):
    one = _fake_distribution(tmp_path, "one-plugin", "reg_one_mod", ["twin", "solo"])
    two = _fake_distribution(tmp_path, "two-plugin", "reg_two_mod", ["twin"])
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = MethodRegistry()
    assert "twin" in registry.names()
    assert sorted(e.origin for e in registry.conflict("twin")) == ["one-plugin", "two-plugin"]
    assert registry.conflict("solo") == []
    with pytest.raises(RegistryError, match="registered twice.*one-plugin.*two-plugin"):
        registry.get("twin")
    assert not one.exists() and not two.exists()
    with pytest.raises(UnknownNameError, match="Did you mean 'twin'"):
        registry.get("twinn")
    registry.get("solo")  # the clash breaks no other name
    assert one.exists() and not two.exists()


def test_same_distribution_visible_twice_is_not_a_conflict(tmp_path, monkeypatch):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        _fake_distribution(tmp_path / sub, "copy-plugin", "reg_copy_mod", ["copied"])
        monkeypatch.syspath_prepend(str(tmp_path / sub))
    registry = MethodRegistry()
    assert registry.conflict("copied") == [] and registry.entry("copied").origin == "copy-plugin"


@pytest.mark.parametrize(
    "name", ["../../etc", "a/b", "..", ".hidden", "-flag", "Upper", "a b", "", "x" * 65]
)
def test_a_plugin_name_that_is_not_a_plain_folder_name_is_refused_naming_the_file(tmp_path, name):
    # `../../etc` put the plugin's run dirs two levels above --out (issue 18 item 13).
    plugin = tmp_path / "bad_name.py"
    plugin.write_text(
        textwrap.dedent(f"""
        import iadbench

        @iadbench.register_method({name!r})
        class Bad(iadbench.MethodAdapter):
            capabilities = iadbench.Capabilities(needs_pixels=False)

            def predict(self, batch):
                return [iadbench.Prediction(label="normal") for _ in batch]
    """)
    )
    with pytest.raises(RegistryError, match="lower-case letters, digits") as refused:
        MethodRegistry(group="iadbench.none").load_plugin_file(plugin)
    assert str(plugin) in str(refused.value)


def test_every_installed_and_example_name_follows_the_rule():
    import re
    from pathlib import Path

    from iadbench.execution.registry import check_method_name

    example = Path(__file__).parents[3] / "examples/iadbench-brightness-plugin"
    declared = re.findall(r"^([^#\s=]+) = ", (example / "pyproject.toml").read_text(), re.M)
    assert "brightness" in declared
    for name in [*MethodRegistry().names(), *declared, "a.b_c-1", "7zip"]:
        check_method_name(name, "test")
