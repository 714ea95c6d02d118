"""Loading AnomalyGPT's published files: every expected key found, none silently skipped."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("open_clip")

from iadbench.contract.errors import IADBenchError  # noqa: E402
from iadbench_methods.anomalygpt.loading import (  # noqa: E402
    load_anomalygpt_heads,
    load_imagebind,
    load_pandagpt_delta,
    read_state_dict,
)
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def source():
    model = build_tiny_model(seed=1)
    with torch.no_grad():  # make the LoRA B weights non-zero, so loading them is visible
        for name, param in model.llm.named_parameters():
            if "lora_B" in name:
                param.normal_()
    return model


def _files(source, tmp_path):
    """The three files as the official code writes them (its key names)."""
    imagebind = {**source.vision.state_dict(), **source.text.state_dict(),
                 "modality_trunks.audio.blocks.0.norm_1.weight": torch.ones(3)}  # fmt: skip
    delta = {f"llama_model.{k}": v for k, v in source.llm.state_dict().items() if ".lora_" in k}
    delta |= {f"llama_proj.{k}": v for k, v in source.heads.llama_proj.state_dict().items()}
    heads = {k: v for k, v in source.heads.state_dict().items()
             if k.startswith(("image_decoder.", "prompt_learner."))}  # fmt: skip
    paths = {}
    for name, state in (("imagebind", imagebind), ("delta", delta), ("heads", heads)):
        paths[name] = tmp_path / f"{name}.pt"
        torch.save(state, paths[name])
    return paths


def test_the_three_files_make_a_fresh_model_equal_to_the_source(source, tmp_path):
    paths = _files(source, tmp_path)
    fresh = build_tiny_model(seed=2)
    load_imagebind(fresh, read_state_dict(paths["imagebind"]))
    load_pandagpt_delta(fresh, read_state_dict(paths["delta"]))
    load_anomalygpt_heads(fresh, read_state_dict(paths["heads"]))
    images = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = source.encode(images, ["bottle", "cable"])
        got = fresh.encode(images, ["bottle", "cable"])
    torch.testing.assert_close(got.anomaly_map, want.anomaly_map)
    torch.testing.assert_close(got.image_token, want.image_token)
    torch.testing.assert_close(got.prompts, want.prompts)
    lora = {k: v for k, v in source.llm.state_dict().items() if "lora_B" in k}
    loaded = fresh.llm.state_dict()
    assert lora and all(torch.equal(loaded[k], v) for k, v in lora.items())


def test_a_missing_key_is_an_error_not_a_silent_skip(source, tmp_path):
    paths = _files(source, tmp_path)
    delta = read_state_dict(paths["delta"])
    dropped = next(k for k in delta if "lora_A" in k)
    del delta[dropped]
    with pytest.raises(IADBenchError, match="PandaGPT delta lacks 1 of the .* silently"):
        load_pandagpt_delta(build_tiny_model(seed=2), delta)
    heads = read_state_dict(paths["heads"])
    del heads["prompt_learner.base_prompts"]
    with pytest.raises(IADBenchError, match="AnomalyGPT checkpoint lacks 1"):
        load_anomalygpt_heads(build_tiny_model(seed=2), heads)
    with pytest.raises(IADBenchError, match="does not exist"):
        read_state_dict(tmp_path / "nowhere.pt")


def test_build_model_from_files_reproduces_the_source(source, tmp_path):
    from iadbench_methods.anomalygpt.loading import build_model
    from iadbench_methods.anomalygpt.text import TINY_TEXT
    from iadbench_methods.anomalygpt.vision import TINY_VISION

    paths = _files(source, tmp_path)
    vicuna = tmp_path / "vicuna"
    source.llm.get_base_model().save_pretrained(vicuna)
    source.tokenizer.save_pretrained(vicuna)
    tiny = dict(vision_config=TINY_VISION, text_config=TINY_TEXT, lora_r=4, lora_alpha=4)
    built = build_model(paths["imagebind"], vicuna, paths["delta"], paths["heads"],
                        prompt_channels=(2, 2, 4, 4, 8), **tiny)  # fmt: skip
    images = torch.randn(1, 3, 56, 56, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        torch.testing.assert_close(
            built.encode(images, ["wood"]).prompts, source.encode(images, ["wood"]).prompts
        )
    with pytest.raises(IADBenchError, match="has shape .*another model size"):
        build_model(paths["imagebind"], vicuna, paths["delta"], paths["heads"], **tiny)
