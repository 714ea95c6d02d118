"""WinCLIP adapter: anomalib's scores, prompt class names, precision, weights, preprocessing."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("anomalib")

from iadbench.contract.errors import IADBenchError  # noqa: E402
from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.contract.records import Sample  # noqa: E402
from iadbench.data import open_dataset  # noqa: E402
from iadbench.execution.predict_loop import predict_samples  # noqa: E402
from iadbench_methods.clip_common import tiny_name  # noqa: E402
from iadbench_methods.winclip import WinClip, WinClipOptions, WinClipPreprocessor  # noqa: E402
from iadbench_methods.winclip.adapter import parse_scales  # noqa: E402

TINY = tiny_name("ViT-B-16-plus-240")


def _tiny(**options: object) -> WinClip:
    return WinClip(WinClipOptions(**options), context=RunContext(tiny=True, device="cpu"))


def _pick(root: Path, dataset: str, categories: dict[str, int]) -> list[Sample]:
    """``n`` test samples (defects and normals) of each named category, in a stable order."""
    samples = open_dataset(dataset, root).samples("test")
    picked: list[Sample] = []
    for category, n in categories.items():
        picked += [s for s in samples if s.category == category][:n]
    return picked


def _scores(adapter: WinClip, samples: list[Sample]) -> list[float]:
    pre = adapter.preprocessor()
    predictions = adapter.predict(samples, [pre(s) for s in samples])
    assert all(p.error is None and p.score is not None for p in predictions)
    return [p.score for p in predictions]  # type: ignore[misc]


@pytest.fixture(scope="module")
def adapter() -> WinClip:
    return _tiny()


def test_preprocessor_matches_anomalib_winclip_pre_processor(synth_mvtec):
    from anomalib.data.utils import read_image
    from anomalib.models.image.winclip.lightning_model import WinClip as AnomalibWinClip

    transform = AnomalibWinClip.configure_pre_processor().transform
    # grid is single-channel on disk, bottle is RGB: both must match anomalib's reading.
    for sample in _pick(synth_mvtec, "mvtec", {"grid": 1, "bottle": 1}):
        expected = transform(read_image(sample.image_path, as_tensor=True).unsqueeze(0))[0]
        ours = WinClipPreprocessor(240)(sample)
        assert ours.shape == (3, 240, 240) and ours.dtype == torch.float32
        torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)


def test_preprocessor_pickles_small_and_works_after_unpickling(synth_mvtec):
    (sample,) = _pick(synth_mvtec, "mvtec", {"bottle": 1})
    pre = _tiny().preprocessor()
    payload = pickle.dumps(pre)
    assert len(payload) < 500  # the image size only: no model travels to the workers
    torch.testing.assert_close(pickle.loads(payload)(sample), pre(sample), rtol=0, atol=0)


def test_scores_equal_anomalib_winclip_model_on_the_same_weights(adapter, synth_mvtec):
    from anomalib.models.image.winclip.torch_model import WinClipModel

    from iadbench_methods.winclip.model import anomalib_backbone

    samples = _pick(synth_mvtec, "mvtec", {"metal_nut": 4})
    ours = _scores(adapter, samples)
    # anomalib's own model, unmodified, built with other random weights, then given ours.
    with anomalib_backbone(TINY, None, seed=1234):
        reference = WinClipModel(scales=(2, 3)).eval()
    # Stock anomalib keeps its default window scales (2, 3); ours computes none (they do not
    # enter the image score), so only the empty per-scale few-shot buffers differ.
    missing, unexpected = reference.load_state_dict(
        adapter.scorer().model.state_dict(), strict=False
    )
    assert not unexpected
    assert all(key.startswith("__visual_embeddings_") for key in missing)
    # The default class_names=official feeds the folder name, as anomalib's Lightning WinClip
    # does with the datamodule's category (it used to be the natural name "metal nut").
    reference.setup("metal_nut")
    images = torch.stack([adapter.preprocessor()(s) for s in samples])
    expected = reference(images).pred_score.tolist()
    assert ours == pytest.approx(expected, abs=1e-5)
    assert all(0.0 <= s <= 1.0 for s in ours)


@pytest.mark.parametrize(
    ("class_names", "expected"),
    [
        # The natural names merge the PCBs into one prompt set (the only behaviour before
        # class_names existed); anomalib's folder names (the default now) keep them apart.
        ("natural", {"bottle": 1, "printed circuit board": 1}),
        ("official", {"bottle": 1, "pcb1": 1, "pcb2": 1, "pcb3": 1}),
    ],
)
def test_text_embeddings_are_computed_once_per_class_name(
    class_names, expected, monkeypatch, synth_visa, synth_mvtec
):
    from anomalib.models.image.winclip.torch_model import WinClipModel

    calls: Counter[str] = Counter()
    original = WinClipModel._collect_text_embeddings

    def counting(self: WinClipModel, class_name: str) -> None:
        calls[class_name] += 1
        original(self, class_name)

    monkeypatch.setattr(WinClipModel, "_collect_text_embeddings", counting)
    adapter = _tiny(class_names=class_names)
    pcbs = _pick(synth_visa, "visa", {"pcb1": 1, "pcb2": 1, "pcb3": 1})
    bottles = _pick(synth_mvtec, "mvtec", {"bottle": 3})
    _scores(adapter, [bottles[0], pcbs[0], bottles[1], pcbs[1]])
    _scores(adapter, [pcbs[2], bottles[2]])
    assert calls == expected


PROMPT_NAMES = {  # category folder → (official: anomalib's datamodule category, natural)
    "metal_nut": ("metal_nut", "metal nut"),
    "pcb1": ("pcb1", "printed circuit board"),
    "pipe_fryum": ("pipe_fryum", "pipe fryum"),
}


@pytest.mark.parametrize("class_names", [None, "official", "natural"])
def test_prompts_name_the_class_as_class_names_says(
    class_names, monkeypatch, synth_mvtec, synth_visa
):
    """What reaches anomalib's prompt ensemble for each category, by default and per setting.

    anomalib's Lightning WinClip passes ``datamodule.category`` (the folder name) unchanged
    (lightning_model.py ``_get_class_name``); before ``class_names`` existed the natural name
    was always used, so the default and ``official`` cases fail on that behaviour.
    """
    from anomalib.models.image.winclip import torch_model

    seen: list[tuple[str, list[str], list[str]]] = []
    original = torch_model.create_prompt_ensemble

    def recording(name: str) -> tuple[list[str], list[str]]:
        normal, anomalous = original(name)
        seen.append((name, normal, anomalous))
        return normal, anomalous

    monkeypatch.setattr(torch_model, "create_prompt_ensemble", recording)
    samples = _pick(synth_mvtec, "mvtec", {"metal_nut": 1}) + _pick(
        synth_visa, "visa", {"pcb1": 1, "pipe_fryum": 1}
    )
    assert [s.category for s in samples] == list(PROMPT_NAMES)
    adapter = _tiny() if class_names is None else _tiny(class_names=class_names)
    assert adapter.describe()["class_names"] == (class_names or "official")
    _scores(adapter, samples)
    column = 1 if class_names == "natural" else 0
    expected = [names[column] for names in PROMPT_NAMES.values()]
    assert [name for name, _, _ in seen] == expected
    for (_, normal, anomalous), want in zip(seen, expected, strict=True):
        assert f"a photo of a flawless {want}." in normal and len(normal) == 147
        assert f"a close-up photo of the damaged {want}." in anomalous and len(anomalous) == 84


def test_unknown_class_names_value_is_refused():
    from iadbench.contract.options import OptionError, build_options

    with pytest.raises(OptionError, match="official, natural"):
        build_options(WinClipOptions, {"class_names": "folder"})
    with pytest.raises(IADBenchError, match="official or natural"):
        _tiny(class_names="folder")


def test_mixed_category_batch_scores_as_per_category_batches(adapter, synth_mvtec, synth_visa):
    mixed = _pick(synth_mvtec, "mvtec", {"bottle": 2, "metal_nut": 2}) + _pick(
        synth_visa, "visa", {"pcb1": 1, "pcb2": 1}
    )
    mixed = [mixed[i] for i in (0, 2, 4, 1, 5, 3)]  # interleave the categories
    per_category: dict[str, float] = {}
    for category in {s.category for s in mixed}:
        group = [s for s in mixed if s.category == category]
        per_category.update(zip((s.id for s in group), _scores(adapter, group), strict=True))
    assert _scores(adapter, mixed) == pytest.approx([per_category[s.id] for s in mixed], abs=1e-6)


def test_unreadable_image_fails_alone_through_predict_samples(adapter, synth_mvtec, tmp_path):
    good = _pick(synth_mvtec, "mvtec", {"bottle": 2})
    broken_file = tmp_path / "broken.png"
    broken_file.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    broken = Sample(
        "bottle/test/x/broken.png", "mvtec", "bottle", "test", "defect", str(broken_file)
    )
    predictions = predict_samples(adapter, [good[0], broken, good[1]])
    with pytest.raises(IADBenchError, match="predict_samples"):
        adapter.predict(good)  # raw samples: the runner (or predict_samples) decodes
    assert [p.error is None for p in predictions] == [True, False, True]
    assert predictions[1].label == "invalid" and str(broken_file) in predictions[1].error
    assert [p.score for p in (predictions[0], predictions[2])] == pytest.approx(
        _scores(adapter, good), abs=1e-6
    )


def test_missing_weights_file_is_a_clear_error():
    with pytest.raises(
        IADBenchError, match=r"weights file '/nonexistent/b16p\.bin' does not exist"
    ):
        WinClip(WinClipOptions(weights="/nonexistent/b16p.bin"), context=RunContext(device="cpu"))


def test_local_checkpoint_file_is_loaded_and_reproduces_its_scores(adapter, synth_mvtec, tmp_path):
    from iadbench_methods.winclip.model import WinClipScorer, build_model

    samples = _pick(synth_mvtec, "mvtec", {"bottle": 3})
    source = build_model(TINY, None, seed=7)  # other weights than --tiny's (seed 0)
    checkpoint = tmp_path / "open_clip_model.bin"
    torch.save(source.clip.state_dict(), checkpoint)
    # How users load a local copy of laion400m_e31: a real (non-tiny) run with weights=FILE.
    local = WinClip(
        WinClipOptions(arch=TINY, weights=str(checkpoint)), context=RunContext(device="cpu")
    )
    assert local.describe()["weights"] == str(checkpoint.resolve())
    images = torch.stack([adapter.preprocessor()(s) for s in samples])
    expected = WinClipScorer(source).scores("bottle", images)
    assert _scores(local, samples) == pytest.approx(expected, abs=1e-6)
    assert _scores(local, samples) != pytest.approx(_scores(adapter, samples), abs=1e-4)


def test_window_scales_do_not_change_image_scores(adapter, synth_mvtec):
    samples = _pick(synth_mvtec, "mvtec", {"bottle": 3})
    assert _scores(_tiny(scales=""), samples) == pytest.approx(_scores(adapter, samples), abs=1e-6)


def test_window_pass_keeps_images_of_a_batch_apart(adapter):
    model = adapter.scorer().model
    images = torch.randn(3, 3, 240, 240, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        together = model(images).anomaly_map
        alone = torch.cat([model(images[i : i + 1]).anomaly_map for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_wrong_image_size_is_refused_before_building():
    with pytest.raises(IADBenchError, match="takes 240 px images"):
        _tiny(image_size=224)


def test_describe_names_the_model_actually_built(adapter):
    facts = adapter.describe()
    assert facts["arch"] == TINY and facts["weights"] is None and facts["random_init_seed"] == 0
    assert (facts["device"], facts["precision"], facts["scales"]) == ("cpu", "fp32", [])
    assert facts["class_names"] == "official" and "folder names" in facts["prompts"]
    assert facts["anomalib"] and facts["open_clip"]
    real = WinClip(context=RunContext(device="cpu")).describe()
    assert (real["arch"], real["weights"]) == ("ViT-B-16-plus-240", "laion400m_e31")


def test_scales_option_parses_and_rejects_nonsense():
    assert parse_scales("2, 3") == (2, 3) and parse_scales("") == ()
    with pytest.raises(IADBenchError, match="positive integers"):
        parse_scales("2,x")


def test_auto_precision_resolves_to_fp32_on_every_device():
    """anomalib keeps WinCLIP's CLIP in fp32 (torch_model.py: no cast; Engine: Lightning's
    default precision "32-true"); ``auto`` used to mean bf16/fp16 on a GPU."""
    from iadbench_methods.winclip.adapter import winclip_precision

    for device in ("cpu", "cuda", "cuda:1"):
        assert winclip_precision("auto", device) == "fp32"
        assert winclip_precision("fp32", device) == "fp32"
    assert winclip_precision("bf16", "cuda") == "bf16"
    assert winclip_precision("fp16", "cuda:0") == "fp16"
    with pytest.raises(IADBenchError, match="needs a GPU"):
        winclip_precision("bf16", "cpu")
    with pytest.raises(IADBenchError, match="precision must be one of"):
        winclip_precision("fp8", "cuda")


def test_adapter_on_a_bf16_gpu_keeps_fp32_by_default(monkeypatch):
    """On a (faked) bf16-capable GPU the default is fp32; half precision only when asked for.

    Nothing is built (the model is built on first use), so no GPU is needed. This failed before:
    ``auto`` resolved to bf16 there.
    """
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    on_gpu = WinClip(WinClipOptions(), context=RunContext(tiny=True, device="cuda"))
    assert (on_gpu.context.device, on_gpu.describe()["precision"]) == ("cuda", "fp32")
    explicit = WinClip(
        WinClipOptions(precision="bf16"), context=RunContext(tiny=True, device="cuda")
    )
    assert explicit.describe()["precision"] == "bf16"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_on_gpu_stays_close_to_fp32(precision, adapter, synth_mvtec):
    samples = _pick(synth_mvtec, "mvtec", {"bottle": 4})
    half = WinClip(
        WinClipOptions(precision=precision), context=RunContext(tiny=True, device="cuda")
    )
    assert half.describe()["precision"] == precision
    assert _scores(half, samples) == pytest.approx(_scores(adapter, samples), abs=2e-2)
