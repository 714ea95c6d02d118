"""AprilGAN: losses, options, prompts, preprocessing, training and scoring on the tiny model."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from iadbench.contract.images import ImageReadError  # noqa: E402
from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.contract.options import OptionError, build_options  # noqa: E402
from iadbench.data import open_dataset  # noqa: E402
from iadbench.execution.predict_loop import predict_samples  # noqa: E402
from iadbench_methods.aprilgan import AprilGAN, AprilGANOptions  # noqa: E402
from iadbench_methods.aprilgan.adapter import map_path  # noqa: E402
from iadbench_methods.aprilgan.data import ClipPreprocessor, load_training_mask  # noqa: E402
from iadbench_methods.aprilgan.losses import dice_loss, focal_loss, segmentation_loss  # noqa: E402
from iadbench_methods.aprilgan.model import gaussian_blur  # noqa: E402
from iadbench_methods.aprilgan.options import parse_layers, resolve_layers  # noqa: E402
from iadbench_methods.aprilgan.prompts import prompt_ensemble  # noqa: E402

SMALL = 112  # 8 × 8 patches: the tiny model trains in well under a second per epoch here


def _adapter(workdir: Path | None = None, seed: int = 0, **options) -> AprilGAN:
    context = RunContext(tiny=True, device="cpu", seed=seed, workdir=workdir)
    return AprilGAN(AprilGANOptions(**{"image_size": SMALL, **options}), context=context)


def _pick(samples, n_defect: int, n_normal: int):
    defects = [s for s in samples if s.label == "defect"][:n_defect]
    return defects + [s for s in samples if s.label == "normal"][:n_normal]


@pytest.fixture(scope="module")
def visa_test(synth_visa):
    return open_dataset("visa", synth_visa).samples("test")


@pytest.fixture(scope="module")
def mvtec_all(synth_mvtec):
    return open_dataset("mvtec", synth_mvtec).samples("all")


# -- losses ---------------------------------------------------------------------------------


def test_focal_loss_matches_hand_computed_values():
    # p = 0.5 everywhere: (1 − 0.5)² · ln 2 per pixel.
    assert focal_loss(torch.zeros(4), torch.tensor([0.0, 1, 0, 1])).item() == pytest.approx(
        0.25 * math.log(2)
    )
    # logit ln 3 → p(abnormal) = 0.75: right pixel (1−.75)²·(−ln .75), wrong (1−.25)²·(−ln .25).
    logits = torch.full((2,), math.log(3))
    expected = (0.0625 * -math.log(0.75) + 0.5625 * -math.log(0.25)) / 2
    assert focal_loss(logits, torch.tensor([1.0, 0.0])).item() == pytest.approx(expected)
    # γ = 0 is the binary cross-entropy.
    x, t = torch.randn(3, 5), (torch.rand(3, 5) > 0.5).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, t)
    assert focal_loss(x, t, gamma=0.0).item() == pytest.approx(bce.item(), rel=1e-5)


def test_dice_loss_matches_hand_computed_values():
    target = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert dice_loss(target.clone(), target).item() == pytest.approx(0.0)
    # overlap 0.5, Σp 2, Σt 1 → dice 1/3 without smoothing.
    assert dice_loss(torch.full((1, 2, 2), 0.5), target, smooth=0.0).item() == pytest.approx(2 / 3)
    # A normal image predicted all-normal costs nothing (the smoothing keeps it defined).
    assert dice_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)).item() == pytest.approx(0.0)
    # Per-image losses are averaged over the batch.
    both = dice_loss(torch.stack([target[0], torch.zeros(2, 2)]), torch.cat([target, target]))
    assert both.item() == pytest.approx(0.5 * (0.0 + 1 - 1 / 2))


def test_segmentation_loss_sums_focal_and_dice_over_layers():
    logits, target = torch.randn(2, 4, 4), (torch.rand(2, 4, 4) > 0.7).float()
    one = focal_loss(logits, target) + dice_loss(torch.sigmoid(logits), target)
    assert segmentation_loss([logits, logits], target).item() == pytest.approx(2 * one.item())


# -- options, prompts, preprocessing --------------------------------------------------------


def test_layers_parse_and_map_onto_the_tiny_depth():
    assert parse_layers("6,12,18,24") == [6, 12, 18, 24]
    assert resolve_layers([6, 12, 18, 24], depth=24) == [5, 11, 17, 23]
    assert resolve_layers([6, 12, 18, 24], depth=4, reference_depth=24) == [0, 1, 2, 3]
    assert resolve_layers([1, 24], depth=4, reference_depth=24) == [0, 3]
    with pytest.raises(OptionError, match="25"):
        resolve_layers([25], depth=24)
    for bad in ("", "a,b", "0,3"):
        with pytest.raises(OptionError, match="feature_layers"):
            parse_layers(bad)


def test_options_are_checked_when_the_run_is_planned():
    options = build_options(AprilGANOptions, {"score": "map-max", "epochs": "2", "weights": ""})
    assert (options.score, options.epochs, options.weights) == ("map-max", 2, None)
    for overrides in ({"score": "max"}, {"epochs": "0"}, {"feature_layers": "x"},
                      {"precision": "fp8"}, {"beta1": "1.5"}):  # fmt: skip
        with pytest.raises(OptionError):
            build_options(AprilGANOptions, overrides)


def test_prompt_ensembles_use_natural_names_on_request():
    # Natural names used to be the only behaviour; since the official class names became the
    # default (class_names=official, see test_aprilgan_official.py) they need class_names=natural.
    normal, abnormal = prompt_ensemble("pcb1", "natural")
    assert len(normal) > len(abnormal) > 10
    assert all("printed circuit board" in p for p in normal + abnormal)
    assert not set(normal) & set(abnormal)


def test_preprocessor_is_picklable_and_normalises(synth_mvtec, mvtec_all):
    preprocess = pickle.loads(pickle.dumps(_adapter().preprocessor()))
    tensor = preprocess(mvtec_all[0])
    assert tensor.shape == (3, SMALL, SMALL) and tensor.dtype == torch.float32
    assert -2.0 < tensor.min() < tensor.max() < 2.7  # CLIP mean/std applied to [0, 1] pixels
    grid = next(s for s in mvtec_all if s.category == "grid")  # single-channel PNG on disk
    assert preprocess(grid).shape == (3, SMALL, SMALL)


def test_training_masks_are_binarised_for_both_datasets(visa_test, mvtec_all):
    for samples in (visa_test, mvtec_all):
        defect = next(s for s in samples if s.label == "defect")
        mask = load_training_mask(defect, 64)
        assert mask.shape == (64, 64) and set(np.unique(mask)) == {0.0, 1.0}
        normal = next(s for s in samples if s.label == "normal")
        assert not load_training_mask(normal, 64).any()


def test_gaussian_blur_keeps_mass_and_smooths():
    spike = torch.zeros(1, 15, 15)
    spike[0, 7, 7] = 1.0
    blurred = gaussian_blur(spike, sigma=1.5)
    assert blurred.sum().item() == pytest.approx(1.0, rel=1e-4)
    assert blurred.max().item() < 0.1


# -- training -------------------------------------------------------------------------------


@pytest.mark.slow
def test_training_lowers_the_loss_and_logs_each_epoch(visa_test, tmp_path):
    adapter = _adapter(epochs=4, workdir=tmp_path / "work")
    samples = _pick(visa_test, 8, 4)
    adapter.fit(samples)
    stats = adapter.training_stats
    assert stats is not None and stats.final_loss < stats.first_epoch_loss
    assert (stats.epochs, stats.steps, stats.images_used) == (4, 8, 12)
    log = (tmp_path / "work" / "training_log.jsonl").read_text()
    lines = [json.loads(x) for x in log.splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2, 3, 4]
    assert lines[-1]["loss"] == pytest.approx(stats.final_loss)
    saved = json.loads((tmp_path / "work" / "training_stats.json").read_text())
    assert saved["final_loss"] == pytest.approx(stats.final_loss)
    assert adapter.describe()["training"]["steps"] == 8


def test_defects_without_masks_and_unreadable_images_are_left_out(visa_test, tmp_path):
    samples = _pick(visa_test, 4, 2)
    broken = tmp_path / "broken.JPG"
    broken.write_bytes(b"not a jpeg")
    samples = [
        dataclasses.replace(samples[0], mask_path=None),
        dataclasses.replace(samples[1], image_path=str(broken)),
        *samples[2:],
    ]
    adapter = _adapter(epochs=1, workdir=tmp_path / "work")
    adapter.fit(samples)
    stats = adapter.training_stats
    assert (stats.skipped_no_mask, stats.unreadable, stats.images_used) == (1, 1, 4)


@pytest.mark.slow
def test_training_is_seeded_by_the_run(visa_test, tmp_path):
    samples = _pick(visa_test, 3, 1)
    losses = []
    for run, seed in enumerate((0, 0, 1)):
        adapter = _adapter(epochs=1, workdir=tmp_path / str(run), seed=seed)
        adapter.fit(samples)
        losses.append(adapter.training_stats.final_loss)
    assert losses[0] == losses[1] != losses[2]


def test_text_score_does_not_depend_on_training(visa_test, mvtec_all, tmp_path):
    adapter = _adapter(epochs=2, workdir=tmp_path / "work")
    batch = _pick(mvtec_all, 3, 3)
    before = [p.score for p in predict_samples(adapter, batch)]
    adapter.fit(_pick(visa_test, 6, 2))
    after = [p.score for p in predict_samples(adapter, batch)]
    assert after == pytest.approx(before, abs=1e-6)


# -- scoring --------------------------------------------------------------------------------


def test_map_max_and_combined_scores(visa_test, mvtec_all, tmp_path):
    adapter = _adapter(epochs=1, workdir=tmp_path / "work")
    adapter.fit(_pick(visa_test, 4, 4))
    batch = _pick(mvtec_all, 4, 4)
    scores = {}
    for kind in ("text", "map-max", "combined"):
        adapter.options = dataclasses.replace(adapter.options, score=kind)
        predictions = predict_samples(adapter, batch)
        assert all(p.error is None and 0.0 <= p.score <= 1.0 for p in predictions)
        assert all(p.label is None for p in predictions)  # scores only: the policy decides
        scores[kind] = np.array([p.score for p in predictions])
    assert not np.allclose(scores["text"], scores["map-max"])
    assert scores["combined"] == pytest.approx((scores["text"] + scores["map-max"]) / 2, abs=1e-6)


def test_save_maps_writes_one_png_per_image(visa_test, tmp_path):
    adapter = _adapter(save_maps=True, score="map-max")
    adapter.context = dataclasses.replace(adapter.context, artifacts_dir=tmp_path / "artifacts")
    batch = _pick(visa_test, 2, 2)  # VisA: .JPG ids, normal/anomaly basenames collide
    predict_samples(adapter, batch)
    pngs = sorted((tmp_path / "artifacts" / "maps").rglob("*.png"))
    assert pngs == sorted(map_path(tmp_path / "artifacts", s) for s in batch)
    with Image.open(pngs[0]) as image:
        assert (image.mode, image.size) == ("L", (SMALL, SMALL))


def test_unreadable_image_fails_alone(mvtec_all, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    batch = [mvtec_all[0], dataclasses.replace(mvtec_all[1], image_path=str(broken))]
    with pytest.raises(ImageReadError):
        ClipPreprocessor(SMALL)(batch[1])
    good, bad = predict_samples(_adapter(), batch)
    assert good.error is None and good.score is not None
    assert bad.label == "invalid" and "broken.png" in bad.error


def test_default_image_size_518_trains_and_predicts(visa_test, mvtec_all, tmp_path):
    context = RunContext(tiny=True, device="cpu", workdir=tmp_path / "work")
    adapter = AprilGAN(AprilGANOptions(epochs=1, score="combined"), context=context)
    adapter.fit(_pick(visa_test, 3, 1))
    facts = adapter.describe()
    assert facts["image_size"] == 518 and facts["embed_dim"] == 16
    assert facts["feature_layers"] == [1, 2, 3, 4]  # 6,12,18,24 of 24 blocks → 1..4 of 4
    inputs = [adapter.preprocessor()(s) for s in mvtec_all[:2]]
    predictions = adapter.predict(mvtec_all[:2], inputs)
    assert all(p.error is None and 0.0 <= p.score <= 1.0 for p in predictions)


def test_describe_before_building_names_the_configuration():
    facts = AprilGAN(AprilGANOptions(), context=RunContext(device="cpu")).describe()
    assert facts["arch"] == "ViT-L-14-336" and facts["weights"] == "openai"
    assert facts["feature_layers"] == "6,12,18,24" and "training" not in facts


def test_checkpoint_of_another_setup_is_refused(visa_test, tmp_path):
    from iadbench.contract.errors import IADBenchError

    work = tmp_path / "work"
    _adapter(epochs=1, workdir=work).fit(_pick(visa_test, 2, 2))
    other = _adapter(feature_layers="12,24", workdir=work)
    with pytest.raises(IADBenchError, match="linear_maps.pt"):
        other.load()


def test_map_path_replaces_the_extension(mvtec_all):
    sample = mvtec_all[0]
    assert map_path(Path("/a"), sample) == Path("/a/maps") / Path(sample.id).with_suffix(".png")


@pytest.mark.parametrize("sample_id", ["../../evil.png", "/tmp/evil.png", "a/../../b.png"])
def test_map_paths_never_leave_the_artifacts_dir(tmp_path, sample_id):
    from iadbench.contract.records import Sample
    from iadbench_methods.aprilgan.adapter import map_path

    sample = Sample(sample_id, "visa", "candle", "test", "defect", "/x.png")
    with pytest.raises(ValueError, match="outside"):
        map_path(tmp_path, sample)


def test_training_on_mvtec_uses_the_official_mosaic_rate_and_it_changes_the_maps(
    mvtec_all, visa_test, tmp_path
):
    samples = _pick([s for s in mvtec_all if s.subset == "test"], 6, 6)
    trained = {}
    for rate in ("auto", "0"):
        adapter = _adapter(epochs=2, aug_rate=rate, workdir=tmp_path / rate)
        adapter.fit(samples)
        assert adapter.training_stats is not None
        trained[rate] = adapter
    assert trained["auto"].training_stats.aug_rate == 0.2  # train.sh --aug_rate 0.2
    assert trained["0"].training_stats.aug_rate == 0.0
    weights = [a._model.maps.state_dict() for a in trained.values()]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    visa = _adapter(epochs=1, workdir=tmp_path / "visa")
    visa.fit(_pick(visa_test, 2, 2))
    assert visa.training_stats is not None and visa.training_stats.aug_rate == 0.0
