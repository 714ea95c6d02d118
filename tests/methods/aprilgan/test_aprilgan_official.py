"""AprilGAN against the official code (github.com/ByChelsea/VAND-APRIL-GAN).

Each test pins one fact read in the official files (named in the test) and fails on this
project's earlier behaviour: its own prompt wording, natural class names, a fixed 3 epochs, the
mean over blocks with ``align_corners=False`` and bf16/fp16 CLIP weights under ``auto``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

import torch.nn.functional as F  # noqa: E402

from iadbench.contract.categories import natural_name  # noqa: E402
from iadbench.contract.method import RunContext  # noqa: E402
from iadbench.contract.options import OptionError, build_options  # noqa: E402
from iadbench.data import open_dataset  # noqa: E402
from iadbench.execution.predict_loop import predict_samples  # noqa: E402
from iadbench_methods.aprilgan import AprilGAN, AprilGANOptions, prompts  # noqa: E402

SMALL = 112

# prompt_ensemble.py, encode_text_with_prompt_ensemble: prompt_normal, prompt_abnormal and
# prompt_templates, written out here independently of methods/aprilgan/prompts.py.
OFFICIAL_NORMAL = [
    "{}", "flawless {}", "perfect {}", "unblemished {}", "{} without flaw",
    "{} without defect", "{} without damage",
]  # fmt: skip
OFFICIAL_ABNORMAL = ["damaged {}", "broken {}", "{} with flaw", "{} with defect", "{} with damage"]
OFFICIAL_TEMPLATES = [
    "a bad photo of a {}.", "a low resolution photo of the {}.", "a bad photo of the {}.",
    "a cropped photo of the {}.", "a bright photo of a {}.", "a dark photo of the {}.",
    "a photo of my {}.", "a photo of the cool {}.", "a close-up photo of a {}.",
    "a black and white photo of the {}.", "a bright photo of the {}.",
    "a cropped photo of a {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
    "a photo of the {}.", "a good photo of the {}.", "a photo of one {}.",
    "a close-up photo of the {}.", "a photo of a {}.", "a low resolution photo of a {}.",
    "a photo of a large {}.", "a blurry photo of a {}.", "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.", "a photo of the small {}.", "a photo of the large {}.",
    "a black and white photo of a {}.", "a dark photo of a {}.", "a photo of a cool {}.",
    "a photo of a small {}.", "there is a {} in the scene.", "there is the {} in the scene.",
    "this is a {} in the scene.", "this is the {} in the scene.", "this is one {} in the scene.",
]  # fmt: skip


def _official_sentences(states: list[str], name: str) -> list[str]:
    # prompt_ensemble.py: for s in (state.format(obj) ...): for template in templates.
    return [t.format(s.format(name)) for s in states for t in OFFICIAL_TEMPLATES]


def _adapter(workdir: Path | None = None, **options) -> AprilGAN:
    context = RunContext(tiny=True, device="cpu", workdir=workdir)
    return AprilGAN(AprilGANOptions(**{"image_size": SMALL, **options}), context=context)


class _RecordingTokenizer:
    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.calls = tokenizer, []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.tokenizer(texts)


# -- 1. prompt ensemble ---------------------------------------------------------------------


def test_prompt_ensemble_is_the_official_one_in_its_order():
    assert (len(prompts.NORMAL_STATES), len(prompts.ABNORMAL_STATES)) == (7, 5)
    assert len(prompts.TEMPLATES) == 35
    assert (prompts.NORMAL_STATES[0], prompts.NORMAL_STATES[-1]) == ("{}", "{} without damage")
    assert (prompts.ABNORMAL_STATES[0], prompts.ABNORMAL_STATES[-1]) == (
        "damaged {}",
        "{} with damage",
    )
    assert prompts.TEMPLATES[0] == "a bad photo of a {}."
    assert prompts.TEMPLATES[-1] == "this is one {} in the scene."
    assert list(prompts.NORMAL_STATES) == OFFICIAL_NORMAL
    assert list(prompts.ABNORMAL_STATES) == OFFICIAL_ABNORMAL
    assert list(prompts.TEMPLATES) == OFFICIAL_TEMPLATES
    normal, abnormal = prompts.prompt_ensemble("metal_nut")
    assert normal == _official_sentences(OFFICIAL_NORMAL, "metal_nut")
    assert abnormal == _official_sentences(OFFICIAL_ABNORMAL, "metal_nut")
    assert (len(normal), len(abnormal)) == (245, 175)


def test_text_embeddings_use_exactly_the_official_sentences_and_reduction():
    model = _adapter().model
    recorder = _RecordingTokenizer(model.tokenizer)
    model.tokenizer = recorder
    text = model.text_embeddings(["metal_nut"])[0]
    normal = _official_sentences(OFFICIAL_NORMAL, "metal_nut")
    abnormal = _official_sentences(OFFICIAL_ABNORMAL, "metal_nut")
    assert sorted(s for call in recorder.calls for s in call) == sorted(normal + abnormal)
    assert [s for call in recorder.calls for s in call] == normal + abnormal
    # prompt_ensemble.py: each embedding /= its norm, mean over the state's sentences, /= norm
    # again; torch.stack(..., dim=1) → (embed_dim, 2) with the normal column first.
    expected = []
    for sentences in (normal, abnormal):
        with torch.no_grad():
            e = model.clip.encode_text(recorder.tokenizer(sentences)).float()
        e = e / e.norm(dim=-1, keepdim=True)
        mean = e.mean(dim=0)
        expected.append(mean / mean.norm())
    assert text.shape == (model.embed_dim, 2)
    torch.testing.assert_close(text, torch.stack(expected, dim=1), atol=1e-5, rtol=1e-4)


# -- 2. class names -------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["metal_nut", "pcb1", "pipe_fryum", "bottle", "macaroni2"])
def test_official_class_names_are_the_folder_names_as_is(category):
    # data/mvtec.py and data/visa.py write cls_name=<folder name> into meta.json; dataset.py and
    # test.py hand it to encode_text_with_prompt_ensemble unchanged.
    assert prompts.object_name(category) == category
    assert prompts.object_name(category, "official") == category
    assert prompts.object_name(category, "natural") == natural_name(category)
    normal, _ = prompts.prompt_ensemble(category)
    assert normal[0] == f"a bad photo of a {category}."
    natural, _ = prompts.prompt_ensemble(category, "natural")
    assert natural[0] == f"a bad photo of a {natural_name(category)}."


def test_class_names_option_reaches_the_prompts_and_describe():
    assert AprilGANOptions().class_names == "official"
    assert build_options(AprilGANOptions, {"class_names": "natural"}).class_names == "natural"
    with pytest.raises(OptionError):
        build_options(AprilGANOptions, {"class_names": "pretty"})
    for choice, expected in (("official", "metal_nut"), ("natural", "metal nut")):
        adapter = _adapter(class_names=choice)
        assert adapter.describe()["class_names"] == choice
        recorder = _RecordingTokenizer(adapter.model.tokenizer)
        adapter.model.tokenizer = recorder
        adapter.model.text_embeddings(["metal_nut"])
        assert recorder.calls[0][0] == f"a bad photo of a {expected}."


# -- 3. schedule, maps, preprocessing -------------------------------------------------------


def test_default_schedule_is_the_official_train_sh():
    options = AprilGANOptions()
    assert (options.batch_size, options.image_size, options.epochs) == (8, 518, "auto")
    assert build_options(AprilGANOptions, {"epochs": "auto"}).epochs == "auto"
    assert build_options(AprilGANOptions, {"epochs": "7"}).epochs == 7
    from iadbench_methods.aprilgan.options import resolve_epochs

    # train.sh: `--dataset mvtec ... --epoch 3`, `--dataset visa ... --epoch 15`.
    assert resolve_epochs("auto", {"mvtec"}) == 3
    assert resolve_epochs("auto", {"visa"}) == 15
    assert resolve_epochs(4, {"visa"}) == 4
    for bad in ({"mvtec", "visa"}, {"mpdd"}, set()):
        with pytest.raises(OptionError, match="epochs"):
            resolve_epochs("auto", bad)


@pytest.mark.parametrize(("dataset", "epochs"), [("visa", 15), ("mvtec", 3)])
def test_auto_epochs_follow_the_training_dataset(dataset, epochs, request, tmp_path):
    root = request.getfixturevalue(f"synth_{dataset}")
    samples = open_dataset(dataset, root).samples("test")
    samples = [s for s in samples if s.label == "normal"][:1]  # one step per epoch
    adapter = _adapter(image_size=28, workdir=tmp_path / "work")
    adapter.fit(samples)
    assert adapter.training_stats.epochs == epochs
    assert len((tmp_path / "work" / "training_log.jsonl").read_text().splitlines()) == epochs


def test_layer_maps_follow_test_py_interpolation():
    model = _adapter().model
    torch.manual_seed(0)
    batch, patches = 2, model.grid**2
    tokens = [torch.randn(batch, patches, model.width) for _ in model.layer_indices]
    text = F.normalize(torch.randn(batch, model.embed_dim, 2), dim=1)
    with torch.no_grad():
        logits = model.layer_logits(tokens, text)
        mapped = model.maps([t.clone() for t in tokens])
    for layer_logits, patch in zip(logits, mapped, strict=True):
        # test.py: 100 · tokens @ text → (B, 2, H, H) → bilinear, align_corners=True → softmax.
        official = (100.0 * patch @ text).permute(0, 2, 1).reshape(batch, 2, model.grid, -1)
        official = F.interpolate(official, size=SMALL, mode="bilinear", align_corners=True)
        official = torch.softmax(official, dim=1)[:, 1]
        torch.testing.assert_close(torch.sigmoid(layer_logits), official, atol=1e-5, rtol=1e-4)


def test_anomaly_map_is_the_sum_over_blocks():
    # test.py: anomaly_map = np.sum(anomaly_maps, axis=0) (the earlier mean was 1/4 of it).
    model = _adapter().model
    a, b = torch.randn(1, 4, 4), torch.randn(1, 4, 4)
    torch.testing.assert_close(model.anomaly_map([a, b]), torch.sigmoid(a) + torch.sigmoid(b))
    ones = [torch.full((1, 2, 2), 50.0)] * 4
    assert model.anomaly_map(ones).max().item() == pytest.approx(4.0)


def test_map_max_score_is_the_summed_map_over_the_number_of_blocks(synth_mvtec):
    adapter = _adapter(score="map-max")
    samples = open_dataset("mvtec", synth_mvtec).samples("test")[:2]
    scores = [p.score for p in predict_samples(adapter, samples)]
    images = torch.stack([adapter.preprocessor()(s) for s in samples])
    model = adapter.model
    with torch.inference_mode():
        _, tokens = model.encode(images)
        text = model.text_embeddings([s.category for s in samples])
        maps = model.anomaly_map(model.layer_logits(tokens, text))
    expected = (maps.flatten(1).amax(1) / len(model.layer_indices)).tolist()
    assert scores == pytest.approx(expected, abs=1e-6)


def test_preprocessing_is_the_official_square_resize(tmp_path, synth_mvtec):
    # open_clip/transform.py (the repo's copy), image_transform(is_train=False):
    # Resize((S, S), BICUBIC), CenterCrop((S, S)) (a no-op after it), RGB, ToTensor, Normalize.
    import dataclasses

    from iadbench_methods.clip_common import CLIP_MEAN, CLIP_STD

    rng = np.random.default_rng(0)
    path = tmp_path / "wide.png"
    Image.fromarray(rng.integers(0, 256, (60, 150, 3), dtype=np.uint8)).save(path)
    sample = dataclasses.replace(
        open_dataset("mvtec", synth_mvtec).samples("test")[0], image_path=str(path)
    )
    ours = _adapter().preprocessor()(sample)
    with Image.open(path) as image:
        resized = image.convert("RGB").resize((SMALL, SMALL), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, np.float32) / 255).permute(2, 0, 1)
    reference = (pixels - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[
        :, None, None
    ]
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


# -- 4. precision ---------------------------------------------------------------------------


def test_auto_precision_is_fp32_weights_with_fp16_autocast_on_gpu():
    from iadbench_methods.aprilgan.options import resolve_clip_precision

    # open_clip/factory.py: create_model_and_transforms(..., precision='fp32'); test.py and
    # train.py run the model inside torch.cuda.amp.autocast() (fp16).
    assert resolve_clip_precision("auto", "cuda") == ("fp32", "fp16")
    assert resolve_clip_precision("auto", "cuda:1") == ("fp32", "fp16")
    assert resolve_clip_precision("auto", "cpu") == ("fp32", None)
    assert resolve_clip_precision("fp32", "cuda") == ("fp32", None)
    assert resolve_clip_precision("bf16", "cuda") == ("bf16", "bf16")
    assert resolve_clip_precision("fp16", "cuda") == ("fp16", "fp16")


def test_auto_precision_keeps_fp32_weights_and_describes_them():
    adapter = _adapter()
    model = adapter.model
    assert {p.dtype for p in model.clip.parameters()} == {torch.float32}
    assert model.dtype == torch.float32 and model.autocast_dtype is None
    assert isinstance(model.autocast(), contextlib.nullcontext)
    facts = adapter.describe()
    assert (facts["precision"], facts["autocast"]) == ("fp32", None)


def test_model_autocast_dtype_defaults_to_half_weights_only():
    from iadbench_methods.aprilgan.model import AprilGANModel

    clip = _adapter().model.clip
    official = AprilGANModel(clip, None, [0], SMALL, "cpu", torch.float32, torch.float16)
    assert official.autocast_dtype == torch.float16
    assert isinstance(official.autocast(), contextlib.nullcontext)  # CPU: no autocast
    assert AprilGANModel(clip, None, [0], SMALL, "cpu").autocast_dtype is None
    half = AprilGANModel(clip, None, [0], SMALL, "cpu", torch.bfloat16)
    assert half.autocast_dtype == torch.bfloat16


# -- QuickGELU: the official code builds nn.GELU at 518 px (methods/aprilgan/README.md) ----------


def test_the_clip_tower_uses_gelu_as_the_official_code_at_518_px(monkeypatch):
    import open_clip
    from open_clip.transformer import QuickGELU
    from torch import nn

    from iadbench_methods.clip_common import create_clip

    # The real config carries no quick_gelu key (as the official model_configs/ViT-L-14-336.json).
    assert "quick_gelu" not in open_clip.get_model_config("ViT-L-14-336")
    seen: dict[str, object] = {}
    real_create = open_clip.create_model

    def recording_create(*args, **kwargs):
        seen.update(kwargs)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(open_clip, "create_model", recording_create)
    bundle = create_clip("ViT-L-14-336", "openai", tiny=True, image_size=SMALL, device="cpu")
    assert not seen.get("force_quick_gelu", False)
    modules = list(bundle.model.modules())
    assert not any(isinstance(m, QuickGELU) for m in modules)
    assert any(isinstance(m, nn.GELU) for m in modules)
