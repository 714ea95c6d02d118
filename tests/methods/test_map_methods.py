"""Every map method returns a map of the size it declares, under ``--tiny`` (issue 20, item 1).

pixel-stats' map also has to localise: on the synthetic defects, higher inside the mask than
outside, so the demo can show a real pixel AUROC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iadbench.contract.method import contract_problems
from iadbench.execution.adapter_setup import build_adapter, setup_of
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.predict_loop import predict_samples
from iadbench.execution.registry import METHODS
from iadbench.runs.maps import resized_map
from iadbench_methods.anomalib_zoo import models as zoo_models
from iadbench_methods.anomalib_zoo.catalogue import ZOO

MAP_METHODS = ["aprilgan", "winclip", "anomalygpt", "pixel-stats"]
# anomalib's zoo: the catalogue says which give maps (tests/methods/anomalib_zoo/test_models.py
# checks their classes follow it; test_zoo.py runs every offline one). PatchCore, the zoo's
# reference, runs here in its own protocol (same dataset, one category): one model, not 28.
ZOO_MAP_METHODS = ["anomalib-patchcore"]


def test_the_map_methods_declare_maps_and_no_other_does() -> None:
    declared = sorted(
        n for n in METHODS.names() if n not in ZOO and METHODS.get(n).capabilities.gives_maps
    )
    assert declared == sorted(MAP_METHODS)
    assert all(contract_problems(METHODS.get(n)) == [] for n in MAP_METHODS)
    zoo = [n for n in METHODS.names() if n in ZOO]  # the entry points, once installed
    assert all(METHODS.get(n).capabilities.gives_maps is ZOO[n].gives_maps for n in zoo)


def _adapter(
    method: str, tmp_path: Path, synth_mvtec: Path, synth_visa: Path, limit: int | None = 2
):
    if method in ZOO and method not in METHODS.names():  # until the checkout is re-installed
        cls = getattr(zoo_models, ZOO[method].model_class)
        METHODS.add(method, cls, f"tests ({cls.__qualname__})")
    adapter_cls = METHODS.get(method)
    one_class = adapter_cls.capabilities.one_class  # trains on the tested dataset's Train
    train = ("mvtec" if one_class else "visa") if adapter_cls.capabilities.trains else None
    request = RunRequest(
        method=method, train=train, test="mvtec",
        test_split="test", tiny=True, device="cpu", limit=limit,
        categories=("bottle",) if one_class else None,
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
        out=tmp_path / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    plan = plan_run(request)
    adapter = build_adapter(setup_of(plan), "cpu")
    if adapter_cls.capabilities.one_class and plan.data.train is not None:  # learn the category
        adapter.fit(plan.data.train)
    return adapter, plan


@pytest.mark.parametrize("method", MAP_METHODS + ZOO_MAP_METHODS)
def test_a_map_method_returns_maps_of_its_declared_size_under_tiny(
    method: str, tmp_path: Path, synth_mvtec: Path, synth_visa: Path
) -> None:
    adapter, plan = _adapter(method, tmp_path, synth_mvtec, synth_visa)
    samples = plan.data.test[:2]
    predictions = predict_samples(adapter, samples)
    shape = adapter.map_shape()
    assert shape is not None
    for prediction in predictions:
        assert prediction.error is None, prediction.error
        assert prediction.anomaly_map is not None and prediction.anomaly_map.shape == shape


def test_pixel_stats_maps_are_higher_inside_the_defect_than_outside(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path
) -> None:
    from sklearn.metrics import roc_auc_score

    from iadbench.contract.images import load_mask

    adapter, plan = _adapter("pixel-stats", tmp_path, synth_mvtec, synth_visa, limit=None)
    defects = [s for s in plan.data.test if s.label == "defect" and s.mask_path]
    assert defects
    values, truth, higher = [], [], []
    for sample, prediction in zip(defects, predict_samples(adapter, defects), strict=True):
        mask = load_mask(str(sample.mask_path))
        assert prediction.anomaly_map is not None
        anomaly_map = resized_map(prediction.anomaly_map, (mask.shape[0], mask.shape[1]))
        higher.append(anomaly_map[mask].mean() > anomaly_map[~mask].mean())
        values.append(anomaly_map.ravel())
        truth.append(mask.ravel())
    # Nearly every defect is brighter in its map than its surroundings (a few on the periodic
    # grid and zipper match a shifted reference: 37 of 41 at the time of writing), and the
    # pooled pixel AUROC is far above chance (a map of noise gives 0.5).
    assert sum(higher) >= 0.8 * len(higher), f"{sum(higher)} of {len(higher)}"
    assert roc_auc_score(np.concatenate(truth), np.concatenate(values)) > 0.8
