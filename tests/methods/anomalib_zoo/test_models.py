"""Every catalogue entry is a method: models.py, pyproject's entry points and the capabilities.

Nothing here builds a model or imports anomalib (``iadbench list`` must not either).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import RunContext, trains
from iadbench_methods.anomalib_zoo import models
from iadbench_methods.anomalib_zoo.catalogue import ZOO

ROOT = Path(__file__).resolve().parents[3]
TARGET = "iadbench_methods.anomalib_zoo.models:"


def _zoo_entry_points() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    methods = project["entry-points"]["iadbench.methods"]
    return {name: target for name, target in methods.items() if target.startswith(TARGET)}


def test_pyproject_registers_every_catalogue_entry_by_its_class_name():
    entry_points = _zoo_entry_points()
    assert entry_points == {e.method: TARGET + e.model_class for e in ZOO.values()}
    assert list(entry_points) == sorted(entry_points)  # sorted, as the catalogue
    for entry in ZOO.values():
        cls = getattr(models, entry.model_class)
        assert cls.zoo is entry and cls.__qualname__ == entry.model_class


def test_capabilities_follow_the_catalogue():
    for entry in ZOO.values():
        capabilities = getattr(models, entry.model_class).capabilities
        assert capabilities.gives_maps is entry.gives_maps, entry.method
        zero_shot = entry.learning_type == "zero_shot"
        assert capabilities.trains is not zero_shot and capabilities.one_class is not zero_shot
    assert not models.Dfkde.capabilities.gives_maps and not models.Ganomaly.capabilities.gives_maps
    assert models.Patchcore.capabilities.gives_maps
    assert not trains(models.AnomalyVFM, models.AnomalyVFM.Options())


def test_only_optimiser_models_have_an_epoch_option():
    for entry in ZOO.values():
        fields = models.__dict__[entry.model_class].Options.__dataclass_fields__
        optimiser = entry.max_epochs is None and not entry.memory_bank
        assert ("max_epochs" in fields) is (optimiser and entry.learning_type != "zero_shot")
    assert models.Fastflow.Options().max_epochs >= 1
    assert "max_epochs" not in models.Padim.Options.__dataclass_fields__


def test_a_model_needing_assets_is_refused_offline_with_the_catalogues_sentence(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = ZOO["anomalib-efficientad"]
    cls = models.EfficientAd
    with pytest.raises(IADBenchError) as refused:
        cls(cls.Options(), context=RunContext(device="cpu", workdir=tmp_path))
    assert str(refused.value).startswith(f"{entry.method} cannot run offline")
    assert entry.needs is not None and entry.needs in str(refused.value)
    # An offline entry builds its adapter (setup) without complaint.
    models.Patchcore(models.Patchcore.Options(), context=RunContext(workdir=tmp_path))


def test_iadbench_list_shows_the_zoo_without_importing_anomalib(tmp_path):
    # The registry reads installed metadata: a dist-info holding pyproject's zoo entry points
    # stands in for a re-installed checkout.
    dist = tmp_path / "iadbench_zoo_listing-0.dist-info"
    dist.mkdir()
    metadata = "Metadata-Version: 2.1\nName: iadbench-zoo-listing\nVersion: 0\n"
    (dist / "METADATA").write_text(metadata)
    lines = [f"{name} = {target}" for name, target in _zoo_entry_points().items()]
    (dist / "entry_points.txt").write_text("[iadbench.methods]\n" + "\n".join(lines) + "\n")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from typer.testing import CliRunner
        from iadbench.cli import app
        result = CliRunner().invoke(app, ["list"], env={{"COLUMNS": "200"}})
        print(result.output)
        print("IMPORTED", sorted(m for m in ("anomalib", "torch") if m in sys.modules))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert "IMPORTED []" in done.stdout, done.stdout
    for entry in ZOO.values():
        assert entry.method in done.stdout
