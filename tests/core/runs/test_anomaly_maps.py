"""Anomaly maps travel from a method's Prediction to the run dir and back (issue 20, item 1).

A map is part of the Prediction (checked, frozen), stored as float16 ``.npy`` before its line,
sealed by the digest in the line, and given back resized to its mask by ``pixel_maps``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from iadbench.contract.records import Prediction
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run
from iadbench.runs.layout import RunLayout
from iadbench.runs.maps import (
    MapCoverage,
    MapSealError,
    load_map,
    map_bytes,
    map_seal_problem,
    pixel_maps,
    resized_map,
)
from iadbench.runs.reader import open_run


def test_a_prediction_checks_its_map_and_stays_frozen_and_hashable() -> None:
    with pytest.raises(ValueError, match="2-D"):
        Prediction(score=0.5, anomaly_map=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="finite"):
        Prediction(score=0.5, anomaly_map=np.array([[0.0, np.nan]]))
    given = np.ones((4, 5), dtype=np.float64)
    prediction = Prediction(score=0.5, anomaly_map=given)
    assert prediction.anomaly_map is not None and prediction.anomaly_map.dtype == np.float32
    given[0, 0] = 7  # a copy: the method may reuse its buffer
    assert prediction.anomaly_map[0, 0] == 1
    with pytest.raises(ValueError):
        prediction.anomaly_map[0, 0] = 2  # read-only, like the rest of the record
    # Equality and hashing ignore the map, as before maps existed.
    assert prediction == Prediction(score=0.5) and hash(prediction) == hash(Prediction(score=0.5))


def test_a_256_map_is_stored_in_131200_bytes_and_a_huge_one_is_not_clipped() -> None:
    assert len(map_bytes(np.zeros((256, 256), np.float32))) == 131_200
    huge = np.full((2, 2), 1e6, np.float32)
    assert np.load(io.BytesIO(map_bytes(huge)))[0, 0] == 1e6


def test_a_map_is_resized_bilinearly_to_its_mask() -> None:
    ramp = np.array([[0.0, 1.0]], dtype=np.float32)
    wide = resized_map(ramp, (1, 4))
    # Half-pixel centres: 0, 0.25, 0.75, 1 (align_corners=False).
    assert np.allclose(wide, [[0.0, 0.25, 0.75, 1.0]])


def _run(tmp_path: Path, synth_mvtec: Path):
    request = RunRequest(
        method="pixel-stats", train=None, test="mvtec", test_split="test",
        data_roots={"mvtec": str(synth_mvtec)}, out=tmp_path / "run",
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    return execute_run(plan_run(request)), request


def test_maps_round_trip_through_a_run_and_a_resume(tmp_path: Path, synth_mvtec: Path) -> None:
    result, request = _run(tmp_path, synth_mvtec)
    layout = RunLayout(result.out)
    lines = [json.loads(line) for line in layout.predictions.read_text().splitlines()]
    assert lines and all(isinstance(line["map"], str) for line in lines)
    first = load_map(layout.anomaly_map(lines[0]["id"]), lines[0]["map"])
    assert first.shape == (64, 64) and first.dtype == np.float32

    # Killed between the map and its line: the last line is gone, its map is a stray one.
    last = lines[-1]
    kept = layout.predictions.read_text().splitlines()[:-1]
    layout.predictions.write_text("\n".join(kept) + "\n")
    np.save(layout.anomaly_map(last["id"]), np.full((3, 3), 9.0, np.float16))
    layout.summary.unlink()
    manifest = json.loads(layout.manifest.read_text())
    layout.manifest.write_text(json.dumps({**manifest, "status": "running"}))
    resumed, _ = _run(tmp_path, synth_mvtec)
    assert (resumed.resumed, resumed.computed) == (len(lines) - 1, 1)
    again = json.loads(layout.predictions.read_text().splitlines()[-1])
    assert again["id"] == last["id"] and again["map"] == last["map"]  # the stray map replaced
    assert map_seal_problem(layout) is None

    run = open_run(result.out)
    samples = plan_run(request).data.test
    coverage = MapCoverage()
    given = list(pixel_maps(run.path, run.outcomes(), samples, coverage))
    assert coverage.given == len(given) == len(lines) and coverage.without_map == 0
    for outcome, anomaly_map, mask in given:
        assert mask is not None and mask.dtype == bool and anomaly_map.shape == mask.shape
        assert mask.any() == (outcome.label == "defect")


def test_a_tampered_map_fails_the_seal_check(tmp_path: Path, synth_mvtec: Path) -> None:
    result, request = _run(tmp_path, synth_mvtec)
    layout = RunLayout(result.out)
    line = json.loads(layout.predictions.read_text().splitlines()[0])
    path = layout.anomaly_map(line["id"])
    changed = np.load(path)
    changed[0, 0] += 1
    np.save(path, changed)
    assert "was changed" in str(map_seal_problem(layout))
    with pytest.raises(MapSealError, match="was changed"):
        load_map(path, line["map"])
    run = open_run(result.out)
    samples = plan_run(request).data.test
    with pytest.raises(MapSealError):
        list(pixel_maps(run.path, run.outcomes(), samples))
    path.unlink()
    assert "is missing" in str(map_seal_problem(layout))


def test_a_defect_without_a_mask_comes_without_one_and_is_counted(
    tmp_path: Path, synth_mvtec: Path
) -> None:
    import dataclasses

    result, request = _run(tmp_path, synth_mvtec)
    run = open_run(result.out)
    samples = [
        dataclasses.replace(s, mask_path=None) if s.label == "defect" else s
        for s in plan_run(request).data.test
    ]
    coverage = MapCoverage()
    given = list(pixel_maps(run.path, run.outcomes(), samples, coverage))
    defects = sum(s.label == "defect" for s in samples)
    assert coverage.defect_without_mask == defects > 0
    assert all((mask is None) == (o.label == "defect") for o, _, mask in given)


def test_predict_writes_each_map_beside_its_output(tmp_path: Path, synth_mvtec: Path) -> None:
    import shutil

    from iadbench.execution.predict import predict_images

    result, _ = _run(tmp_path, synth_mvtec)
    folder = tmp_path / "in" / "bottle"
    folder.mkdir(parents=True)
    shutil.copyfile(synth_mvtec / "bottle" / "test" / "good" / "000.png", folder / "a.png")
    output = tmp_path / "p.jsonl"
    predict_images(result.out, [tmp_path / "in"], output)
    (row,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert row["anomaly_map"] == str(tmp_path / "p-artifacts" / "maps" / "bottle" / "a.png.npy")
    assert np.load(row["anomaly_map"]).shape == (64, 64) and row["map"] is None
