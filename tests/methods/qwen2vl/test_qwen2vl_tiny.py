"""The tiny Qwen2-VL checkpoint, the loader and the adapter's batched generation (offline)."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import RunContext
from iadbench.contract.records import Sample
from iadbench.execution.predict_loop import predict_samples
from iadbench_methods.qwen2vl import Qwen2VL, Qwen2VLOptions
from iadbench_methods.qwen2vl import tiny as tiny_module
from iadbench_methods.qwen2vl.adapter import load_image
from iadbench_methods.qwen2vl.loading import (
    check_model_source,
    load_model_and_processor,
    resolve_attention,
)
from iadbench_methods.qwen2vl.prompt import build_messages
from iadbench_methods.qwen2vl.tiny import SPECIAL_TOKENS, TINY_VERSION, tiny_model_dir

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("iadbench-cache")


@pytest.fixture(scope="module")
def tiny_dir(cache_dir: Path) -> Path:
    return tiny_model_dir(cache_dir)


@pytest.fixture(scope="module")
def loaded(tiny_dir: Path):
    return load_model_and_processor(str(tiny_dir), device="cpu", precision="auto")


@pytest.fixture(scope="module")
def adapter(cache_dir: Path) -> Qwen2VL:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IADBENCH_CACHE_DIR", str(cache_dir))
        return Qwen2VL(
            Qwen2VLOptions(max_new_tokens=6), context=RunContext(tiny=True, device="cpu")
        )


def noise_image(seed: int, size: int = 64) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_tiny_dir_is_built_once_in_the_cache_and_then_reused(cache_dir, tiny_dir, monkeypatch):
    assert tiny_dir == cache_dir / "tiny-models" / f"qwen2-vl-{TINY_VERSION}"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in tiny_dir.iterdir()
    }

    def must_not_rebuild(directory: Path) -> None:
        raise AssertionError("rebuilt a cached tiny checkpoint")

    monkeypatch.setattr(tiny_module, "_write_checkpoint", must_not_rebuild)
    assert tiny_model_dir(cache_dir) == tiny_dir
    # Built in a staging dir and renamed: nothing half-written is left beside it.
    assert [p.name for p in tiny_dir.parent.iterdir()] == [tiny_dir.name]


def test_tiny_recipe_is_deterministic(tiny_dir, tmp_path):
    again = tiny_model_dir(tmp_path)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        digest = [hashlib.sha256((d / name).read_bytes()).hexdigest() for d in (tiny_dir, again)]
        assert digest[0] == digest[1], name


def test_tiny_dir_loads_with_the_auto_classes_of_a_real_checkpoint(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = AutoProcessor.from_pretrained(tiny_dir)
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2VLProcessor"
    assert type(processor.video_processor).__name__ == "Qwen2VLVideoProcessor"
    ids = {token: processor.tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    assert len(set(ids.values())) == len(SPECIAL_TOKENS)
    assert model.config.image_token_id == ids["<|image_pad|>"]
    assert model.config.vision_start_token_id == ids["<|vision_start|>"]
    assert processor.tokenizer.eos_token == "<|im_end|>"
    assert model.config.vision_config.hidden_size == model.config.text_config.hidden_size


def test_chat_template_places_the_image_and_expands_it_to_a_few_visual_tokens(loaded):
    model, processor = loaded
    text = processor.apply_chat_template(
        build_messages("metal_nut"), add_generation_prompt=True, tokenize=False
    )
    assert text.startswith("<|im_start|>system\n")
    assert "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>This is an image" in text
    assert text.endswith("Please strictly follow the format.<|im_end|>\n<|im_start|>assistant\n")
    encoded = processor(text=[text], images=[noise_image(0)], return_tensors="pt")
    # 64×64 → 56×56: 4×4 patches of 14 px, merged 2×2 → 4 visual tokens.
    assert encoded["image_grid_thw"].tolist() == [[1, 4, 4]]
    assert int((encoded["input_ids"] == model.config.image_token_id).sum()) == 4


def test_loader_gives_an_eval_model_with_left_padding_and_the_pixel_budget(tiny_dir):
    model, processor = load_model_and_processor(
        str(tiny_dir), device="cpu", precision="auto", max_pixels=28 * 28 * 8, min_pixels=28 * 28
    )
    assert not model.training
    assert model.config._attn_implementation == "sdpa"
    assert processor.tokenizer.padding_side == "left"
    assert processor.image_processor.size.longest_edge == 28 * 28 * 8
    grid = processor.image_processor(images=[noise_image(1, 256)])["image_grid_thw"]
    assert int(grid.prod()) <= 8 * 4  # at most 8 visual tokens of 4 patches each


def test_a_lora_adapter_directory_is_applied(tiny_dir, tmp_path, loaded):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    lora = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    lora.init_lora_weights = False  # random B: the adapter changes the outputs
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    adapted, _ = load_model_and_processor(
        str(tiny_dir), device="cpu", precision="auto", adapter=str(tmp_path / "adapter")
    )
    model, _ = loaded
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        assert not torch.allclose(model(input_ids=ids).logits, adapted(input_ids=ids).logits)


def test_missing_weights_name_the_model_and_how_to_provide_them(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # An empty hub cache, even on a machine that holds the real weights.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(IADBenchError, match=r"Qwen/Qwen2-VL-7B-Instruct.*--set model=PATH"):
        check_model_source("Qwen/Qwen2-VL-7B-Instruct")
    with pytest.raises(IADBenchError, match="not a checkpoint directory"):
        check_model_source(str(tmp_path / "nothing-here"))


def test_attention_is_sdpa_on_the_cpu_and_flash_attention_is_refused_there():
    assert resolve_attention("auto", "cpu", "fp32") == "sdpa"
    assert resolve_attention("eager", "cpu", "fp32") == "eager"
    with pytest.raises(IADBenchError, match="flash-attn"):
        resolve_attention("flash_attention_2", "cpu", "fp32")
    with pytest.raises(IADBenchError, match="attn_implementation must be one of"):
        resolve_attention("fast", "cpu", "fp32")


def test_batched_left_padded_generation_equals_one_by_one(adapter):
    # Different category names give prompts of different lengths, so the batch needs padding.
    categories = ["bottle", "pcb1", "metal_nut", "pipe_fryum", "grid"]
    images = [noise_image(seed) for seed in range(len(categories))]
    batched = adapter.generate(categories, images)
    alone = [adapter.generate([c], [i])[0] for c, i in zip(categories, images, strict=True)]
    assert batched == alone
    assert all(isinstance(text, str) for text in batched)


def test_predict_keeps_order_parses_answers_and_isolates_an_unreadable_image(adapter, tmp_path):
    good = tmp_path / "good.png"
    noise_image(7).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    samples = [
        Sample(f"{name}.png", "mvtec", "bottle", "test", "normal", str(path))
        for name, path in [("a", good), ("b", broken), ("c", good)]
    ]
    first, failed, third = predict_samples(adapter, samples)  # decoded as a run does
    assert failed.error is not None and "broken.png" in failed.error
    assert first.text == third.text and first.label in ("defect", "normal", "invalid")
    assert adapter.predict(samples[:1], [load_image(samples[0])]) == [first]


def test_preprocessor_is_picklable_and_gives_rgb_images(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("L", (40, 30), 128).save(path)
    preprocess = pickle.loads(pickle.dumps(load_image))
    image = preprocess(Sample("grey.png", "mvtec", "grid", "test", "normal", str(path)))
    assert image.mode == "RGB" and image.size == (40, 30)


def test_describe_records_the_tiny_stand_in_and_the_generation_settings(adapter, cache_dir):
    facts = adapter.describe()
    assert facts["model"] == str(cache_dir / "tiny-models" / f"qwen2-vl-{TINY_VERSION}")
    assert "Qwen/Qwen2-VL-7B-Instruct" in facts["tiny"]
    assert facts["decoding"] == "greedy" and facts["max_new_tokens"] == 6
    assert facts["attn_implementation"] == "sdpa" and facts["precision"] == "fp32"
    assert facts["max_pixels"] == 401_408 and facts["transformers"]
    assert "lines transcription" in facts["prompt"]


def test_the_typeset_prompt_option_changes_what_the_model_reads(adapter, loaded, cache_dir):
    _, processor = loaded
    typeset = Qwen2VL(
        Qwen2VLOptions(max_new_tokens=6, prompt="typeset"),
        context=RunContext(tiny=True, device="cpu"),
    )
    default_text = adapter._chat_text(processor, "pill")
    typeset_text = typeset._chat_text(processor, "pill")
    assert "<think></think> <answer>A or B</answer>" in default_text
    assert "<think> ... </think> <answer>A or B</answer>" in typeset_text
    assert "typeset transcription" in typeset.describe()["prompt"]


def test_a_missing_adapter_directory_is_refused_before_loading(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("IADBENCH_CACHE_DIR", str(cache_dir))
    with pytest.raises(IADBenchError, match="adapter_config.json"):
        Qwen2VL(
            Qwen2VLOptions(adapter=str(tmp_path / "none")),
            context=RunContext(tiny=True, device="cpu"),
        )
