"""`iadbench list` reads entry-point metadata only; it never runs an installed plugin's code.

Nothing is installed: each fake distribution is a ``*.dist-info`` folder (METADATA +
entry_points.txt) beside a module that writes a marker file when imported, on PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "iadbench")

_MODULE = '''\
from pathlib import Path

Path({marker!r}).write_text("imported")

import iadbench


class {cls}(iadbench.MethodAdapter):
    """Fake plugin {cls}."""

    capabilities = iadbench.Capabilities(needs_pixels=False)

    def predict(self, batch):
        return [iadbench.Prediction(label="normal") for _ in batch]
'''


def fake_distribution(root: Path, dist: str, module: str, methods: dict[str, str]) -> Path:
    """A distribution ``dist`` whose ``module`` writes ``root/<module>.imported`` on import."""
    marker = root / f"{module}.imported"
    (root / f"{module}.py").write_text(_MODULE.format(marker=str(marker), cls="Fake"))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {module}:Fake\n" for name in methods)
    (info / "entry_points.txt").write_text(f"[iadbench.methods]\n{lines}")
    return marker


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "250", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_plain_list_shows_plugins_from_metadata_without_importing_them(tmp_path):
    marker = fake_distribution(tmp_path, "evil-plugin", "evil_mod", {"evil-method": ""})
    result = cli(tmp_path, "list")
    assert result.returncode == 0, result.stderr
    assert "evil-method" in result.stdout
    assert not marker.exists(), "iadbench list imported an installed plugin"
    assert "evil-plugin" in result.stdout and "evil_mod:Fake" in result.stdout
    assert "always-defect" in result.stdout  # built-ins are listed too

    matched = cli(tmp_path, "list", "evil-*")
    assert matched.returncode == 0 and "evil-method" in matched.stdout
    assert not marker.exists()


def test_options_import_only_the_named_method(tmp_path):
    wanted = fake_distribution(tmp_path, "wanted-plugin", "wanted_mod", {"wanted": ""})
    other = fake_distribution(tmp_path, "other-plugin", "other_mod", {"other": ""})
    for args in (["list", "--options", "wanted"], ["list", "wanted", "--details"]):
        wanted.unlink(missing_ok=True)
        result = cli(tmp_path, *args)
        assert result.returncode == 0, result.stderr
        assert "Fake plugin Fake" in result.stdout and "other_mod" not in result.stdout
        assert wanted.exists() and not other.exists()


def test_a_name_declared_by_two_distributions_is_listed_and_refused_without_importing(tmp_path):
    first = fake_distribution(tmp_path, "first-plugin", "first_mod", {"twin": ""})
    second = fake_distribution(tmp_path, "second-plugin", "second_mod", {"twin": ""})
    listed = cli(tmp_path, "list", "--details")
    assert listed.returncode == 0, listed.stderr
    assert "first-plugin" in listed.stdout and "second-plugin" in listed.stdout
    assert "several distributions" in listed.stdout
    assert "always-defect" in listed.stdout  # the clash breaks nothing else
    run = cli(tmp_path, "run", "--method", "twin", "--train", "visa", "--test", "mvtec")
    assert run.returncode == 2
    assert "registered twice" in run.stderr + run.stdout
    assert "first-plugin" in run.stderr + run.stdout
    assert not first.exists() and not second.exists()
